module github.com/parkerpack/parker

go 1.26.0

require (
	github.com/bmatcuk/doublestar/v4 v4.10.4
	github.com/ulikunitz/xz v0.5.17
	golang.org/x/sys v0.50.0
)
