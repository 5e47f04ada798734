#!/usr/bin/env bash
# Azure Blob remotes against Azurite (tests/tools): Shared Key, a SAS token,
# a connection string; large objects through Put Block / Put Block List;
# the container made on the first push; credentials never in config; a
# wrong key or a read-only SAS is a clear error (exit 4) that names the fix,
# from push and from 'mlo remote check'.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_azurite
# account_sas PERMISSIONS : an account SAS for the development account
# (signed as Azure documents for version 2019-12-12).
account_sas() {
  /usr/bin/python3 - "$1" "$AZ_DEV_KEY" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse
perms, key = sys.argv[1], base64.b64decode(sys.argv[2])
fields = {"sv": "2019-12-12", "ss": "b", "srt": "sco", "sp": perms, "se": "2099-01-01T00:00:00Z", "spr": "https,http"}
to_sign = "\n".join(["devstoreaccount1", perms, "b", "sco", "", fields["se"], "", fields["spr"], fields["sv"], ""])
fields["sig"] = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
print(urllib.parse.urlencode(fields))
PY
}

new_repo a
make_data
expect_ok remote add origin azure://team-data/project --default
expect_ok remote modify origin endpoint "$AZ_ENDPOINT"
# Small blocks, so big.bin's chunk pack goes up as blocks and a block list.
expect_ok remote modify origin multipart_threshold 1048576
git add -A && git commit -qm remote
grep -q "$AZ_DEV_KEY" .mlo/config.yaml && fail "the account key leaked into config.yaml"

expect_ok remote check
expect_out_contains "works: wrote, read back and deleted"
# The container does not exist yet: the first push makes it.
expect_ok --json push
expect_json "d['objects'] == 42"

# A SAS token with every permission, and a connection string: both pull.
cd "$TEST_TMP" && git clone -q a b && cd b
AZURE_STORAGE_KEY= AZURE_STORAGE_SAS_TOKEN="?$(account_sas rwdlc)" expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"
rm -rf .mlo/cache/objects data/big.bin data/small
env -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_KEY \
  AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZ_DEV_KEY;BlobEndpoint=$AZ_ENDPOINT;" \
  "$MLO" -q pull || fail "pull with a connection string"
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# What mlo wrote is plain blobs: big.bin's packs are listed with their sizes.
expect_ok --json fsck --remote origin
expect_json "d['ok'] and d['blobs'] >= 1"

# Bad credentials: exit 4, the reason and the fix; nothing lost.
AZURE_STORAGE_KEY=$(printf 'not the key' | base64) expect_rc 4 push
expect_err_contains "HTTP 403"
expect_err_contains "AZURE_STORAGE_KEY"
env -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_KEY "$MLO" push >"$TEST_TMP/o" 2>"$TEST_TMP/e"
[ $? = 4 ] || fail "no credentials: expected exit 4"
grep -q "no Azure credentials found" "$TEST_TMP/e" || fail "no credentials: $(cat "$TEST_TMP/e")"
pass
AZURE_STORAGE_KEY='%%%' expect_rc 4 push
expect_err_contains "not base64"
# A SAS that may read and list but not write: remote check names the step
# and calls it a permission problem.
AZURE_STORAGE_KEY= AZURE_STORAGE_SAS_TOKEN="$(account_sas rl)" expect_rc 4 remote check
expect_err_contains "permission problem at the write step"
AZURE_STORAGE_KEY= AZURE_STORAGE_SAS_TOKEN="$(account_sas rl)" expect_rc 4 --json remote check
expect_json "d['problem'] == 'permission' and [s['step'] for s in d['steps']] == ['connect', 'list', 'write']"
# The SAS never shows in messages.
[[ "$ERR" != *"sig="*[A-Za-z0-9]* || "$ERR" == *"sig=***"* ]] || fail "a SAS signature in a message: $ERR"
pass
# A container name Azure would refuse: exit 3 before any request.
expect_rc 3 remote add bad azure://No_Such/x
