# parker.mk: build parker artifacts from make.
#
#   include parker.mk
#
# With this included, "make app-c" packs the current directory into app-c,
# running the program "app" (itself made first if the Makefile has a rule
# for it). Dependencies are exact: parker writes a depfile listing every
# packed file and directory and each ignore file it read, and this
# fragment includes those depfiles, so editing, adding or deleting an
# asset rebuilds the artifact, and an unchanged tree is up to date.
#
# Variables (set them before or after the include):
#   PARKER            the parker command (default: parker)
#   PARKER_FLAGS      flags for every artifact, e.g. --persist logs
#   PARKER_ARTIFACTS  artifacts that "make parker-all" builds and
#                     "make parker-clean" removes, e.g. app-c tool-c
#   PARKER_DEPDIR     where depfiles go (default: .parker); it is never
#                     packed
#
# Targets:
#   NAME-c            pack the directory with NAME as the target
#   parker-all        build every artifact in PARKER_ARTIFACTS
#   parker-clean      remove PARKER_ARTIFACTS and the depfiles
#
# The fragment never sets .DEFAULT_GOAL: the first target of your own
# Makefile stays the default. Artifacts built in parallel (make -j) never
# pack one another or each other's temporary files.

PARKER ?= parker
PARKER_FLAGS ?=
PARKER_ARTIFACTS ?=
PARKER_DEPDIR ?= .parker

# The listing is rewritten only when the set of packed paths, sizes, modes
# or link targets changed, so files added or deleted anywhere in the tree
# make the artifact out of date while an unchanged tree stays up to date.
# The depfile covers edits to the files themselves.
%-c: % $(PARKER_DEPDIR)/%-c.list
	$(PARKER) -q $(PARKER_FLAGS) --exclude /$(PARKER_DEPDIR)/ --depfile $(PARKER_DEPDIR)/$(notdir $@).d -o $@ $<

$(PARKER_DEPDIR)/%-c.list: parker-force
	@mkdir -p $(PARKER_DEPDIR)
	@$(PARKER) --dry-run $(PARKER_FLAGS) --exclude /$(PARKER_DEPDIR)/ -o $*-c $* >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

.PHONY: parker-all parker-clean parker-force
parker-force:
parker-all: $(PARKER_ARTIFACTS)

parker-clean:
	rm -f $(PARKER_ARTIFACTS) $(foreach a,$(notdir $(PARKER_ARTIFACTS)),$(PARKER_DEPDIR)/$(a).d $(PARKER_DEPDIR)/$(a).list)
	-rmdir $(PARKER_DEPDIR) 2>/dev/null

-include $(wildcard $(PARKER_DEPDIR)/*.d)
