# parker.mk: build parker artifacts with GNU make (tested with 4.3).
#
#   include parker.mk
#
# With this line, "make app-c" packs the directory make runs in into
# app-c, with the program "app" as the target. When the Makefile has a
# rule for app, make builds app first. No other line is needed. A name
# with a directory works too: "make bin/app-c" packs the current directory
# with bin/app as the target and writes bin/app-c.
#
# Variables (all optional):
#   PARKER             the parker command (default: parker)
#   PARKER_FLAGS       parker flags for every artifact, as shell words,
#                      such as --persist logs --exclude '*.log'
#   PARKER_FLAGS_NAME  flags for the artifact NAME alone, such as
#                      PARKER_FLAGS_app-c = --memory 512M
#   PARKER_ARTIFACTS   artifacts that "make parker-all" builds, such as
#                      app-c tool-c
#   PARKER_DEPDIR      directory for depfiles and listings, relative to
#                      the directory make runs in (default: .parker); it
#                      is never packed
# Set PARKER_ARTIFACTS and PARKER_DEPDIR before the include line, because
# make reads them while it reads this file. The others may be set
# anywhere. Per-artifact flags go in PARKER_FLAGS_NAME, not in a
# target-specific "app-c: PARKER_FLAGS += ...", which the listing made
# while make reads its makefiles would not see.
#
# Targets:
#   NAME-c        pack the current directory with NAME as the target
#   parker-all    build every artifact in PARKER_ARTIFACTS
#   parker-clean  remove PARKER_ARTIFACTS, every other artifact built
#                 through this file, and PARKER_DEPDIR
#
# Dependencies: each pack writes PARKER_DEPDIR/NAME-c.d, a depfile that
# lists every packed regular file and each ignore file parker read, so
# editing one of them rebuilds the artifact. Adding or deleting a file, or
# changing a mode or a link, shows in PARKER_DEPDIR/NAME-c.list: the
# output of "parker --dry-run" with the flags and the parker version,
# written as make comments. Make includes the listing of every artifact
# that has a depfile, so it regenerates those listings each time it runs,
# before it decides what to build, also under "make -q" and "make -n".
# A listing is replaced only when its text changes, so an unchanged tree
# is up to date and make runs no pack. Directory modification times are
# not used because writing an artifact changes its own directory's time.
#
# The target must not be an intermediate file, which make deletes after
# the build: mention it in the Makefile, for example as the target of its
# build rule. This file names the targets of PARKER_ARTIFACTS and of
# artifacts built before as prerequisites, which also keeps them.
#
# This file never chooses the default goal: it puts back the value that
# .DEFAULT_GOAL had before the include line, so the first target of your
# own Makefile stays the default wherever that line is.
#
# Artifacts built in parallel (make -j) in one directory never pack one
# another: parker leaves out other parker artifacts and parker's
# temporary files. Each artifact packs the whole directory, so every
# target of PARKER_ARTIFACTS is built before any of them is packed; name
# other files the build writes there as prerequisites of the artifact.

parker_default_goal := $(.DEFAULT_GOAL)

PARKER ?= parker
PARKER_FLAGS ?=
PARKER_ARTIFACTS ?=
PARKER_DEPDIR ?= .parker

# parker_exclude keeps PARKER_DEPDIR, which holds the depfiles and the
# listings, out of every artifact.
parker_exclude = --exclude '$(patsubst ./%,%,$(PARKER_DEPDIR))/'

# parker_flags expands to the flags of artifact $1.
parker_flags = $(strip $(PARKER_FLAGS) $(PARKER_FLAGS_$1) $(parker_exclude))

# parker_list writes the listing of artifact $1 with target $2 to the
# file $3, replacing $3 only when the text changed. A failed dry run, such
# as one for a target not yet built, writes its error as the listing,
# which differs from any successful one; the pack that follows reports
# the error if it persists.
define parker_list
mkdir -p $(dir $3) && \
{ printf '%s\n' 'flags: $(subst ','\'',$(call parker_flags,$1))'; \
  $(PARKER) --version 2>&1; \
  $(PARKER) --dry-run $(call parker_flags,$1) -o $1 $2 2>&1 || echo 'dry run failed'; \
} | sed 's/^/# /' >$3.tmp && \
if cmp -s $3.tmp $3; then rm -f $3.tmp; else mv -f $3.tmp $3; fi
endef

# The listing is refreshed before packing, so the artifact ends up newer
# than it, and after the target was built, which make -j may not have
# done yet when the listing rule below ran.
%-c: %
	@$(call parker_list,$@,$<,$(PARKER_DEPDIR)/$@.list)
	$(PARKER) -q $(call parker_flags,$@) --depfile $(PARKER_DEPDIR)/$@.d -o $@ $<

$(PARKER_DEPDIR)/%-c.list: parker-force
	@$(call parker_list,$*-c,$*,$@)

# Artifacts built before, found by their depfiles, depend on their
# listings, which make regenerates because they are included below.
parker_depfiles := $(if $(wildcard $(PARKER_DEPDIR)),$(shell find $(PARKER_DEPDIR) -type f -name '*-c.d'))
parker_built := $(patsubst $(PARKER_DEPDIR)/%.d,%,$(parker_depfiles))
$(foreach a,$(parker_built),$(eval $a: $(PARKER_DEPDIR)/$a.list $(patsubst %-c,%,$a)))

# Each artifact packs the whole directory, the other artifacts' targets
# included, so under make -j every target is built before any pack reads it.
ifneq ($(strip $(PARKER_ARTIFACTS)),)
$(PARKER_ARTIFACTS): $(patsubst %-c,%,$(PARKER_ARTIFACTS))
endif

.PHONY: parker-all parker-clean parker-force
parker-force:
parker-all: $(PARKER_ARTIFACTS)

parker_clean_artifacts = $(sort $(PARKER_ARTIFACTS) $(parker_built))
parker-clean:
	rm -f $(parker_clean_artifacts) $(foreach a,$(parker_clean_artifacts),$(addprefix $(PARKER_DEPDIR)/$a,.d .d.tmp .list .list.tmp))
	test ! -d $(PARKER_DEPDIR) || find $(PARKER_DEPDIR) -depth -type d -empty -delete

ifneq ($(MAKECMDGOALS),parker-clean)
-include $(parker_built:%=$(PARKER_DEPDIR)/%.list)
endif
-include $(parker_depfiles)

.DEFAULT_GOAL := $(parker_default_goal)
