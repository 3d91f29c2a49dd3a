#!/usr/bin/env python3
"""The structure rules of berth's sources, checked by the build (docs/architecture.md §10).

  - A pure library (decisions only: no sockets, files, threads, clocks or logging) includes no
    I/O header and reads no clock.
  - Boost.Beast is used inside src/http/ only.
  - No file in src/ is over 800 lines, and no function over 80 lines.

Known exceptions are listed below, each with its reason; an exception that no longer applies is
an error too, so the lists only shrink.

  tests/structure/check_structure.py SOURCE_ROOT
"""
import os
import re
import sys

PURE_LIBRARIES = ["lease", "control", "scheduler", "model", "protocol", "pattern", "json"]
# Pure files inside a library that also does I/O: the master's decisions and its state.
PURE_FILES = [
    "src/master/plan.h", "src/master/plan.cpp", "src/master/plan_apps.cpp", "src/master/master_state.h",
    "src/master/failovers.h", "src/master/failovers.cpp",
]
IO_INCLUDE = re.compile(
    r'#\s*include\s*<(fstream|filesystem|iostream|thread|unistd\.h|fcntl\.h|sys/[^>]+|netinet/[^>]+|'
    r'arpa/[^>]+|boost/asio[^>]*|boost/beast[^>]*|spdlog/[^>]+)>')
CLOCK_READ = re.compile(r'\b(system_clock|steady_clock|high_resolution_clock)::now\b')
BEAST = re.compile(r'#\s*include\s*<boost/beast')
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80

# path -> reason
LONG_FILES = {}
BEAST_OUTSIDE_HTTP = {}
# "path:function" -> reason. The debt this check started with; it may only shrink.
LONG_FUNCTIONS = {
    "src/executor/spawn.cpp:spawn_task_process": "the child's setup between fork and exec, async-signal-safe code only",
}


def sources(root):
    for base, _, files in os.walk(os.path.join(root, "src")):
        for name in sorted(files):
            if name.endswith((".cpp", ".h")):
                path = os.path.join(base, name)
                yield os.path.relpath(path, root), path


def strip_comments_and_strings(text):
    """Blanks out comments, string and character literals, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(name, first line, line count) of each function body at namespace or class scope."""
    code = strip_comments_and_strings(text)
    stack = []  # kinds of the open blocks
    header_start = 0  # where the text before the next '{' begins
    line = 1
    found = []
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c in ";":
            header_start = i + 1
        elif c == "{":
            header = code[header_start:i]
            flat = " ".join(header.split())
            outer = all(kind in ("namespace", "class") for kind, *_ in stack)
            if re.search(r'\b(namespace)\b', flat) and "(" not in flat:
                kind = "namespace"
            elif re.search(r'\b(class|struct|union|enum)\b', flat) and "(" not in flat:
                kind = "class"
            elif outer and "(" in flat:
                kind = "function"
            else:
                kind = "block"
            name = ""
            if kind == "function":
                m = re.search(r'([~\w:]+(?:operator\s*\S+)?)\s*\(', flat)
                name = m.group(1) if m else flat[:40]
            stack.append((kind, name, line))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, name, start = stack.pop()
                if kind == "function":
                    found.append((name, start, line - start + 1))
            header_start = i + 1
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    errors = []
    seen_long_files, seen_beast, seen_long_functions = set(), set(), set()
    for rel, path in sources(root):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        is_test = rel.endswith("_test.cpp")
        library = rel.split("/")[1]
        if (library in PURE_LIBRARIES or rel in PURE_FILES) and not is_test:
            for m in IO_INCLUDE.finditer(text):
                errors.append(f"{rel}: the pure library {library}/ includes <{m.group(1)}>")
            for m in CLOCK_READ.finditer(strip_comments_and_strings(text)):
                errors.append(f"{rel}: the pure library {library}/ reads a clock ({m.group(0)}); take the time as an argument")
        if BEAST.search(text) and library != "http" and not is_test:
            if rel in BEAST_OUTSIDE_HTTP:
                seen_beast.add(rel)
            else:
                errors.append(f"{rel}: Boost.Beast outside src/http/; use http/http.h")
        if is_test:
            continue
        lines = text.count("\n")
        if lines > MAX_FILE_LINES:
            if rel in LONG_FILES:
                seen_long_files.add(rel)
            else:
                errors.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES})")
        for name, start, count in functions(text):
            if count > MAX_FUNCTION_LINES:
                key = f"{rel}:{name}"
                if key in LONG_FUNCTIONS:
                    seen_long_functions.add(key)
                else:
                    errors.append(f"{rel}:{start}: function {name} is {count} lines (at most {MAX_FUNCTION_LINES})")
    for rel in sorted(set(LONG_FILES) - seen_long_files):
        errors.append(f"{rel}: listed as a long file but is not one any more: remove it from LONG_FILES")
    for rel in sorted(set(BEAST_OUTSIDE_HTTP) - seen_beast):
        errors.append(f"{rel}: listed in BEAST_OUTSIDE_HTTP but uses no Beast now: remove it")
    for key in sorted(set(LONG_FUNCTIONS) - seen_long_functions):
        errors.append(f"{key}: listed as a long function but is not one any more: remove it")
    for e in errors:
        print(e)
    print(f"check_structure: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
