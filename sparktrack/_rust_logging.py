"""Keep the AWS SDK's credential-chain warnings inside delta-rs out of the terminal.

deltalake's Rust core logs with env_logger, configured once from ``RUST_LOG`` when
the ``deltalake`` module loads (warnings and worse when unset). Opening an ``s3://``
table without credentials makes the AWS SDK inside it warn once per credential
provider and region source it tries (instance metadata, profile, ...), each with the
whole error chain: a screen of ``WARN aws_config::...`` lines before the one
StoreError that already says credentials are missing.

So, imported before anything imports deltalake, this sets ``RUST_LOG`` to the same
default with the SDK's configuration loader at ``error``, unless the user set
``RUST_LOG`` (theirs wins) or deltalake is loaded already (too late to matter).
"""

from __future__ import annotations

import os
import sys

__all__ = ["QUIET_RUST_LOG"]

QUIET_RUST_LOG = "warn,aws_config=error"

if "RUST_LOG" not in os.environ and "deltalake" not in sys.modules:
    os.environ["RUST_LOG"] = QUIET_RUST_LOG
