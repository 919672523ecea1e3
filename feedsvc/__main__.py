import sys

from feedsvc.cli import main

sys.exit(main())
