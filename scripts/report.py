"""Write figures/*.png and figures/REPORT.md: `python scripts/report.py [--quick] [--results DIR]`.

The same as `swarmreg report`; see `swarmreg report --help`.
"""

import sys

from swarmreg.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
