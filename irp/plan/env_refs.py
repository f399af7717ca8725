"""`${VARIABLE}` references in plan values: secrets stay in the environment, not in the plan
file. Notification targets and http/command action parameters are filled from them."""

from __future__ import annotations

import re

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
