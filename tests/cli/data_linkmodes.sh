#!/usr/bin/env bash
# Link modes: hardlink and symlink make workspace files links to read-only
# cache objects; an edit can not corrupt the cache; rm turns links back into
# plain files.
source "$(dirname "$0")/lib.sh"
new_repo

obj() { echo ".mlo/cache/objects/${1:0:2}/${1:2}"; }

# hardlink
printf 'cache:\n  link: hardlink,copy\n' > .mlo/config.local.yaml
mkdir -p hl && echo "one" > hl/a.txt && echo "two" > hl/b.txt && echo "one" > hl/dup.txt
expect_ok data add hl
h=$(sha256sum hl/a.txt | cut -d' ' -f1)
expect_eq "$(stat -c %i hl/a.txt)" "$(stat -c %i "$(obj "$h")")" "hardlinked to the object"
expect_eq "$(stat -c %i hl/dup.txt)" "$(stat -c %i "$(obj "$h")")" "duplicate content shares the object"
[ -w hl/a.txt ] && [ "$(id -u)" != 0 ] && fail "hardlinked file is writable"
expect_ok data status --exit-code
# replacing the file (what editors do) leaves the cache intact
rm -f hl/a.txt && echo "edited" > hl/a.txt
expect_eq "$(cat "$(obj "$h")")" "one" "cache object unchanged"
expect_rc 1 data status --exit-code
expect_ok data checkout --force hl
expect_eq "$(cat hl/a.txt)" "one" "restored"
expect_eq "$(stat -c %i hl/a.txt)" "$(stat -c %i "$(obj "$h")")" "checkout links again"

# symlink
printf 'cache:\n  link: symlink,copy\n' > .mlo/config.local.yaml
echo "sym" > s.txt
expect_ok data add s.txt
[ -L s.txt ] || fail "s.txt is not a symlink in symlink mode"
expect_eq "$(cat s.txt)" "sym" "content through the link"
expect_ok data status --exit-code
# re-adding a path that is a link into the cache is fine
expect_ok data add s.txt
rm s.txt
expect_ok data checkout s.txt
[ -L s.txt ] || fail "checkout did not recreate the symlink"
pass

# rm keeps plain, writable copies, never links into the cache
expect_ok data rm s.txt hl
[ -L s.txt ] && fail "s.txt still a symlink after rm"
expect_eq "$(cat s.txt)" "sym" "s.txt content kept"
expect_eq "$(stat -c %h hl/b.txt)" "1" "hl/b.txt is no longer a hardlink"
echo "more" >> hl/b.txt || fail "kept file not writable"
pass

# copy mode: the workspace file keeps its own inode
printf 'cache:\n  link: copy\n' > .mlo/config.local.yaml
echo "copy" > c.txt
expect_ok data add c.txt
h=$(sha256sum c.txt | cut -d' ' -f1)
[ "$(stat -c %i c.txt)" != "$(stat -c %i "$(obj "$h")")" ] || fail "copy mode shares the inode"
echo "edit" >> c.txt
expect_eq "$(cat "$(obj "$h")")" "copy" "cache object unchanged by an in-place edit"

done_testing
