#!/usr/bin/env python3
"""Renders `perf script` output as a flame graph in SVG.

    perf record -g -p PID -- sleep 10
    perf script | bench/flamegraph.py --title "row 1: receiver" > docs/flamegraphs/row1.svg

Each sample's call stack is folded into one line (outermost frame first), equal stacks
are counted, and every frame is drawn as a box as wide as the samples that passed
through it, callers below callees. Hovering a box shows its function, samples and share.
Frames without a symbol show as their library. Debian packages no flame graph renderer,
hence this script; it reads only what `perf script` prints.
"""

import argparse
import collections
import hashlib
import html
import re
import sys

FRAME = re.compile(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def frame_name(symbol, dso):
    if symbol and symbol != "[unknown]":
        symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
        # Keep function names readable: drop the argument list of a C++ symbol (the
        # parenthesized group at its end; "(anonymous namespace)" inside stays).
        text = symbol[:-6] if symbol.endswith(") const") else symbol
        if text.endswith(")"):
            depth = 0
            for i in range(len(text) - 1, -1, -1):
                depth += {")": 1, "(": -1}.get(text[i], 0)
                if depth == 0:
                    if i > 0:
                        symbol = text[:i]
                    break
        return symbol
    library = dso.rsplit("/", 1)[-1] if dso else "?"
    return "[" + library + "]"


def fold(lines):
    """Counts each distinct stack, as a tuple from the outermost frame in."""
    stacks = collections.Counter()
    comm = None
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None and frames:
                stacks[tuple([comm] + list(reversed(frames)))] += 1
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0]
            frames = []
            continue
        m = FRAME.match(line)
        if m:
            frames.append(frame_name(m.group(1), m.group(2)))
    if comm is not None and frames:
        stacks[tuple([comm] + list(reversed(frames)))] += 1
    return stacks


def build_tree(stacks):
    root = {"name": "all", "count": 0, "children": {}}
    for stack, count in stacks.items():
        root["count"] += count
        node = root
        for name in stack:
            child = node["children"].setdefault(name, {"name": name, "count": 0, "children": {}})
            child["count"] += count
            node = child
    return root


def color(name):
    digest = hashlib.md5(name.encode()).digest()
    if name.startswith("["):  # a library without symbols
        return "rgb(%d,%d,%d)" % (160 + digest[0] % 40, 160 + digest[1] % 40, 160 + digest[2] % 40)
    return "rgb(%d,%d,%d)" % (205 + digest[0] % 50, 80 + digest[1] % 120, 40 + digest[2] % 40)


def render(root, title, width=1200, frame_height=16, min_width=0.3):
    total = max(root["count"], 1)
    depth = [0]

    def measure(node, level):
        depth[0] = max(depth[0], level)
        for child in node["children"].values():
            measure(child, level + 1)

    measure(root, 0)
    height = (depth[0] + 1) * frame_height + 60
    scale = (width - 20) / total
    out = [
        '<?xml version="1.0" standalone="no"?>',
        '<svg version="1.1" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg" '
        'font-family="Verdana, sans-serif" font-size="11">' % (width, height),
        '<rect x="0" y="0" width="100%" height="100%" fill="rgb(250,250,240)"/>',
        '<text x="%d" y="24" text-anchor="middle" font-size="16">%s</text>'
        % (width // 2, html.escape(title)),
        '<text x="10" y="%d" font-size="10">%d samples; box width = share of samples; '
        "callers below, callees above</text>" % (height - 8, total),
    ]

    def draw(node, x, level):
        w = node["count"] * scale
        if w < min_width:
            return
        y = height - 30 - (level + 1) * frame_height
        share = 100.0 * node["count"] / total
        label = "%s (%d samples, %.2f%%)" % (node["name"], node["count"], share)
        out.append("<g><title>%s</title>" % html.escape(label))
        out.append(
            '<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="2"/>'
            % (10 + x, y, w, frame_height - 1, color(node["name"]))
        )
        chars = int(w / 7)
        if chars >= 3:
            text = node["name"] if len(node["name"]) <= chars else node["name"][: chars - 2] + ".."
            out.append('<text x="%.1f" y="%d">%s</text>' % (13 + x, y + frame_height - 4, html.escape(text)))
        out.append("</g>")
        offset = x
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            draw(child, offset, level + 1)
            offset += child["count"] * scale

    draw(root, 0, 0)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--title", default="flame graph")
    args = parser.parse_args()
    stacks = fold(sys.stdin)
    if not stacks:
        sys.exit("flamegraph.py: no samples in the input (is it `perf script` output?)")
    sys.stdout.write(render(build_tree(stacks), args.title))


if __name__ == "__main__":
    main()
