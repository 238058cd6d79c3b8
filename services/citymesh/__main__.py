import sys

from citymesh.cli import main

sys.exit(main())
