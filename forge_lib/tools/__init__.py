"""Command-line tools for the course's own files: `python -m forge_lib.tools.nbtools` executes
notebooks and rewrites the map; `python -m forge_lib.tools.publish` makes the student edition,
the site and the workshop table."""
