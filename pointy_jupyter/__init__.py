"""Pointy in Jupyter: `%load_ext pointy_jupyter` adds `%%pointy` cells with a live run widget.

IPython's extension protocol calls the two functions below. The magics instance, found again
through IPython's magics registry, owns everything the extension starts.
"""

from __future__ import annotations

import sys
from typing import Any

_MAGICS = "PointyMagics"


def load_ipython_extension(ipython: Any) -> None:
    from .magics import PointyMagics

    unload_ipython_extension(ipython)  # a reload starts from a clean slate
    ipython.register_magics(PointyMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get(_MAGICS)
    if magics is not None:
        magics.close()
        dask = sys.modules.get("pointy_engine.dask_executor")  # only if a cell used Dask
        if dask is not None:
            dask.local_cluster.close()
