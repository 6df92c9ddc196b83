#!/usr/bin/env python3
"""Checks the documentation: every relative link in README.md and docs/*.md resolves (file and #anchor,
GitHub's heading slugs), and README.md stays a user's guide of at most 250 lines.
Run from the repository root: python3 tools/check_docs.py"""
import os, re, sys

def slug(heading):
    # GitHub: lower case, punctuation dropped (word characters, hyphens and spaces kept), spaces → hyphens.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

def anchors(path):
    found, fenced = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found

files = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir("docs") if f.endswith(".md"))
problems = []
for f in files:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # absolute URL
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(resolved):
            problems.append(f"{f}: link to a missing file: {target}")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            problems.append(f"{f}: no heading for #{anchor} in {resolved}")
lines = sum(1 for _ in open("README.md", encoding="utf-8"))
if lines > 250:
    problems.append(f"README.md: {lines} lines, more than 250")
print("\n".join(problems) or f"docs: {len(files)} files, every relative link resolves; README.md {lines} lines")
sys.exit(1 if problems else 0)
