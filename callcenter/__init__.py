"""A pure-Python softswitch with a contact center inside it.

Packages: ``sip`` (signaling stack), ``switch`` (B2BUA, registrar, routing, CDRs),
``store`` (SQLite), ``config`` (typed configuration with precise errors),
``web`` (HTTP face), ``testing`` (developer kit). See ``docs/`` for the map.
"""

__version__ = "0.1.0"
