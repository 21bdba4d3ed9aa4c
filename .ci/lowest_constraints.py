"""Print a pip constraints file that pins every direct dependency to its declared lower bound.

Usage: python .ci/lowest_constraints.py [EXTRA ...] > lowest.txt  (the runtime dependencies
plus the named optional extras). Every requirement must be of the plain form name>=version,
so that the bound CI tests is the bound users see.
"""

import re
import sys

import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
for req in requirements:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([^,;\s]+)", req.strip())
    if m is None:
        sys.exit(f"dependency {req!r} has no plain lower bound (name>=version)")
    print(f"{m[1]}=={m[3]}")
