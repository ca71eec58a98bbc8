from acd.cli import main
import sys

sys.exit(main())
