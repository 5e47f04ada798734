#!/usr/bin/env bash
# Every value a command's options are bound to outlives parsing. cmd/ binds
# options to std::make_shared values and keeps them alive by capturing them
# in the command's run lambda; one that no lambda captured was freed when its
# register function returned, and CLI11 then wrote the flag into freed memory
# ('exp show --desc': a use-after-free only AddressSanitizer saw). Each such
# value in cmd/ must appear in some lambda's capture list.
source "$(dirname "$0")/lib.sh"

report=$(/usr/bin/python3 - "$MLO_SOURCE_DIR/cmd" <<'PY'
import pathlib, re, sys
count = 0
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.cpp")):
    text = f.read_text()
    captures = re.findall(r"\[([^\[\]]*)\]\s*(?:\([^()]*\))?\s*(?:mutable\s*)?\{", text)
    for m in re.finditer(r"auto\s+(\w+)\s*=\s*std::make_shared<", text):
        count += 1
        name = m.group(1)
        if not any(re.search(r"(^|[\s,=&])" + name + r"($|[\s,])", c) for c in captures):
            print(f"{f.name}:{text.count(chr(10), 0, m.start()) + 1}: '{name}' is captured by no lambda")
print(f"checked {count}")
PY
)
checked=$(tail -1 <<<"$report")
[ "${checked#checked }" -ge 20 ] || fail "found only ${checked#checked } shared option values in cmd/; is the pattern still right?"
pass
if [ "$(wc -l <<<"$report")" -gt 1 ]; then fail "$(head -n -1 <<<"$report")"; fi
pass
done_testing
