#!/usr/bin/env python3
"""Medians over rounds of an alternated hyperfine pair (A B A B ...).

Usage: hf_rounds.py DIR NAME ROUNDS
Reads DIR/NAME.R.json for R in 0..ROUNDS-1 (hyperfine --export-json of two
commands) and prints, in seconds: the median wall time of A and of B over
every run, and the median over rounds of each one's mean CPU (user+sys;
hyperfine records CPU per round, not per run).
"""
import json
import statistics
import sys

directory, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
wall, cpu = [[], []], [[], []]
for r in range(rounds):
    results = json.load(open(f"{directory}/{name}.{r}.json"))["results"]
    for i in (0, 1):
        wall[i] += results[i]["times"]
        cpu[i].append(results[i]["user"] + results[i]["system"])
print(*(statistics.median(x) for x in wall + cpu))
