module github.com/parkerpack/parker/examples/gogen

go 1.26
