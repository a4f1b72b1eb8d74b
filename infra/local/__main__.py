import sys

from infra.local import defaults

defaults.apply()  # before the handlers' modules are imported (Powertools reads its settings then)

from infra.local.stack import main  # noqa: E402

sys.exit(main())
