"""The only place where table and column names of a run database are spelled.

One run = one directory holding ``deepscope.db`` (SQLite, WAL). Statistics use one canonical
field order, :data:`STAT_FIELDS`, end to end: the on-device stacked vector in capture, the columns
of the ``stats`` table, :class:`~deepscope.store.records.StatSeries` and the JSON of the server.
"""

from __future__ import annotations

DB_FILENAME = "deepscope.db"
#: SQLite page size of new runs (large blobs read several times faster than with 4 KiB pages).
PAGE_SIZE = 65536

#: Bumped when a reader of an older version could misread the file. A reader refuses newer files.
SCHEMA_VERSION = 1

#: Canonical statistic order. ``count`` is the number of elements; ``nonfinite`` the number of
#: NaN/Inf elements (moments are over finite elements only when ``nonfinite > 0`` is impossible to
#: avoid: they are NaN then); ``zero_frac`` the share of exact zeros; ``dead_frac`` the share of
#: units (channels for >= 4-D outputs, last dim otherwise) that are <= 0 for the whole batch;
#: ``saturated_frac`` the share of elements within 1% of a sigmoid/tanh-like bound;
#: ``update_ratio`` = ||update|| / ||weight|| (kind ``update`` only). Unused fields are NaN.
STAT_FIELDS: tuple[str, ...] = (
    "count",
    "mean",
    "std",
    "min",
    "max",
    "norm",
    "zero_frac",
    "nonfinite",
    "dead_frac",
    "saturated_frac",
    "update_ratio",
)

#: What a statistic row describes. ``weight``/``grad``/``update`` aggregate the layer's own
#: (non-recursive) parameters; ``activation``/``activation_grad`` are the layer's output and its
#: gradient; ``input`` is the root module's input (layer name ``""`` is never used: the root is
#: stored under its name, ``"<root>"`` if it has none).
STAT_KINDS: tuple[str, ...] = ("weight", "grad", "update", "activation", "activation_grad", "input")

ROOT_LAYER = "<root>"

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)",
    # Scalars are stored as numpy-encoded chunks (one per tag per flush): 1M points read back in
    # milliseconds, where one row per point costs ~1 s through the sqlite3 module.
    "CREATE TABLE IF NOT EXISTS scalar_chunks (id INTEGER PRIMARY KEY, tag_id INTEGER NOT NULL,"
    " first_step INTEGER NOT NULL, last_step INTEGER NOT NULL, n INTEGER NOT NULL,"
    " steps BLOB NOT NULL, values_ BLOB NOT NULL, walls BLOB NOT NULL, envelope BLOB)",
    "CREATE INDEX IF NOT EXISTS scalar_chunks_tag ON scalar_chunks (tag_id, first_step)",
    # Chunks of a tag in write order without sorting their blobs (last write wins).
    "CREATE INDEX IF NOT EXISTS scalar_chunks_tag_id ON scalar_chunks (tag_id, id)",
    "CREATE TABLE IF NOT EXISTS layers (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " type TEXT NOT NULL, family TEXT NOT NULL, ord INTEGER NOT NULL, num_params INTEGER NOT NULL,"
    " trainable_params INTEGER NOT NULL, params TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stats (layer_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " step INTEGER NOT NULL, "
    + ", ".join(f"{f} REAL" for f in STAT_FIELDS)
    + ", PRIMARY KEY (kind, layer_id, step)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS histograms (layer_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " step INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, counts BLOB NOT NULL,"
    " PRIMARY KEY (kind, layer_id, step)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS graph (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS findings (id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " code TEXT NOT NULL, severity TEXT NOT NULL, layer TEXT, step INTEGER, message TEXT NOT NULL,"
    " suggestion TEXT NOT NULL, evidence TEXT NOT NULL, wall REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, step INTEGER, kind TEXT NOT NULL,"
    " layer TEXT, data TEXT NOT NULL, wall REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS artifacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " kind TEXT NOT NULL, step INTEGER, wall REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS artifact_blobs (artifact_id INTEGER NOT NULL, key TEXT NOT NULL,"
    " mime TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (artifact_id, key))",
)

#: Parts of a run with their own data version (``meta.versions``), so a cached answer about one
#: part survives writes to another (a live run logs scalars every second, statistics rarely).
VERSION_PARTS: tuple[str, ...] = ("scalars", "stats", "histograms", "other")
#: Which parts a writer operation changes (anything unlisted changes ``other``).
OP_PARTS: dict[str, tuple[str, ...]] = {
    "scalars": ("scalars",),
    "scalar_arrays": ("scalars",),
    "stats": ("stats",),
    "hists": ("histograms",),
    "layers": ("stats", "histograms", "other"),
}

#: Scalar chunk encodings (little-endian, fixed; never pickle).
STEP_DTYPE = "<i8"
VALUE_DTYPE = "<f8"
WALL_DTYPE = "<f8"
HIST_DTYPE = "<i8"
