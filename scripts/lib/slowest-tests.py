#!/usr/bin/env python3
"""The slowest tests of a cargo-nextest run, from its JUnit report, and the run's totals.

    slowest-tests.py COUNT JUNIT_XML...   (one report per nextest run of the suite)
"""
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    count = int(sys.argv[1])
    roots = []
    for path in sys.argv[2:]:
        try:
            roots.append(ET.parse(path).getroot())
        except (OSError, ET.ParseError) as error:
            print(f"== no test timings in {path}: {error}")
    cases = []
    failed = skipped = 0
    for suite in (suite for root in roots for suite in root.iter("testsuite")):
        binary = suite.get("name", "")
        for case in suite.iter("testcase"):
            name = case.get("name", "")
            cases.append((float(case.get("time", "0")), f"{binary} {name}"))
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            if case.find("skipped") is not None:
                skipped += 1
    cases.sort(reverse=True)
    print(f"== the {min(count, len(cases))} slowest of {len(cases)} tests (seconds)")
    for seconds, name in cases[:count]:
        print(f"  {seconds:7.1f} {name}")
    print(f"  {sum(s for s, _ in cases):7.1f} all tests, added up")
    print(f"{len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
