import sys

from tracker_annotate.cli.main import main

sys.exit(main())
