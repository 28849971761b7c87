#!/usr/bin/env python3
"""Reads a UCI file (the syntax of /etc/config/*) and prints it as calls of the stand-in in
tests/openwrt/functions.sh, one per statement, every argument shell-quoted:

    _standin_section TYPE NAME      (anonymous sections are named cfg1, cfg2, ...)
    _standin_option NAME OPTION VALUE
    _standin_list NAME OPTION VALUE

The syntax as uci reads it: statements `config`, `option`, `list`, one a line; words separated
by blanks; '...' taken as it is, "..." with backslash escapes, both possibly over several lines;
adjacent quoted and bare parts make one word ('it'\\''s'); `#` starts a comment outside quotes.
A mistake exits 1 with FILE:LINE: on stderr.

usage: uci2sh.py FILE
"""
import re
import shlex
import sys

NAME = re.compile(r"^[A-Za-z0-9_]+$")


def statements(text, path):
    """Yields (line, [words]) for each statement of text."""
    words, word, in_word, line, start = [], [], False, 1, 1
    i, n = 0, len(text)

    def fail(msg):
        sys.exit(f"{path}:{line}: {msg}")

    while i <= n:
        c = text[i] if i < n else "\n"
        if c == "\n" or c == "#" and not in_word:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            if c == "#":
                while i < n and text[i] != "\n":
                    i += 1
                continue
            if words:
                yield start, words
            words = []
            line += 1
            start = line
        elif c in " \t\r":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif c in "'\"":
            in_word = True
            i += 1
            while True:
                if i >= n:
                    fail(f"unterminated {c}")
                d = text[i]
                if d == c:
                    break
                if d == "\\" and c == '"' and i + 1 < n:
                    i += 1
                    d = text[i]
                if d == "\n":
                    line += 1
                word.append(d)
                i += 1
        elif c == "\\" and i + 1 < n:
            in_word = True
            i += 1
            word.append(text[i])
        else:
            in_word = True
            word.append(c)
        i += 1


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: uci2sh.py FILE")
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    section, anon = None, 0
    for line, words in statements(text, path):
        kind = words[0]
        if kind == "package":
            continue
        if kind == "config":
            if len(words) not in (2, 3):
                sys.exit(f"{path}:{line}: config TYPE [NAME]")
            if len(words) == 3:
                section = words[2]
            else:
                anon += 1
                section = f"cfg{anon}"
            if not NAME.match(words[1]) or not NAME.match(section):
                sys.exit(f"{path}:{line}: a type or section name of letters, digits and _")
            print("_standin_section", shlex.quote(words[1]), section)
        elif kind in ("option", "list"):
            if section is None or len(words) != 3 or not NAME.match(words[1]):
                sys.exit(f"{path}:{line}: {kind} NAME VALUE, inside a config section")
            print(f"_standin_{kind}", section, words[1], shlex.quote(words[2]))
        else:
            sys.exit(f"{path}:{line}: unknown statement '{kind}'")


if __name__ == "__main__":
    main()
