"""A QGIS style for exported footprints, stored in a GeoPackage's ``layer_styles`` table (QGIS's own place for
it; marked ``useAsDefault``), so a QGIS user opening the file sees the app's colours: pending yellow, accepted
green, drawn-by-a-reviewer blue, imported labels white outlines, rejected red, and likely-fused footprints
outlined in magenta on top.

The colours are the Review page's (its map component, ``app/components/review_map/src/index.js``; a test keeps
the two equal: ``geo`` may not import ``app``).
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

STYLE_NAME = "Footprint Studio review colours"
COLOURS = {  # fill RGBA, line RGB, as on the Review page's map
    "pending": ([255, 200, 0, 50], [255, 200, 0]),
    "accepted": ([0, 210, 90, 110], [0, 230, 100]),
    "rejected": ([230, 40, 40, 70], [230, 40, 40]),
    "human": ([40, 140, 255, 120], [60, 160, 255]),
    "label": ([255, 255, 255, 30], [255, 255, 255]),
}
FUSED_LINE = [255, 0, 255]
DELETED = ([150, 150, 150, 40], [150, 150, 150])

RULES = (  # (label, QGIS filter expression, colours)
    ("accepted: drawn or edited by a reviewer", "\"status\" = 'accepted' AND \"source\" = 'human'", COLOURS["human"]),
    ("accepted: imported label", "\"status\" = 'accepted' AND \"source\" = 'label'", COLOURS["label"]),
    ("accepted", "\"status\" = 'accepted' AND \"source\" NOT IN ('human', 'label')", COLOURS["accepted"]),
    ("pending", "\"status\" = 'pending'", COLOURS["pending"]),
    ("rejected", "\"status\" = 'rejected'", COLOURS["rejected"]),
    ("deleted", "\"status\" = 'deleted'", DELETED),
)
FUSED_RULE = ("likely fused (outline)", "\"fused\"")

LAYER_STYLES_SQL = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""


def _rgba(values: list[int]) -> str:
    return ",".join(str(v) for v in (list(values) + [255])[:4])


def _fill_symbol(name: str, fill: list[int] | None, line: list[int], width_mm: float) -> str:
    options = {
        "color": _rgba(fill) if fill else "0,0,0,0",
        "style": "solid" if fill else "no",
        "outline_color": _rgba(line),
        "outline_style": "solid",
        "outline_width": str(width_mm),
        "outline_width_unit": "MM",
        "joinstyle": "miter",
    }
    rows = "".join(f'<Option type="QString" name="{k}" value={quoteattr(v)}/>' for k, v in options.items())
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">{rows}</Option>'
            "</layer></symbol>")


def footprint_qml() -> str:
    """The QML document: a rule-based renderer, one rule per status (and source for accepted), plus the fused
    outline drawn over whatever status."""
    rules, symbols = [], []
    for index, (label, expression, (fill, line)) in enumerate(RULES):
        rules.append(f'<rule key="{{r{index}}}" label={quoteattr(label)} filter={quoteattr(expression)} '
                     f'symbol="{index}"/>')
        symbols.append(_fill_symbol(str(index), fill, line, 0.4))
    fused = len(RULES)
    rules.append(f'<rule key="{{r{fused}}}" label={quoteattr(FUSED_RULE[0])} filter={quoteattr(FUSED_RULE[1])} '
                 f'symbol="{fused}"/>')
    symbols.append(_fill_symbol(str(fused), None, FUSED_LINE, 0.8))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0" styleCategories="Symbology">\n'
            '<renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" forceraster="0">\n'
            f'<rules key="{{root}}">{"".join(rules)}</rules>\n'
            f'<symbols>{"".join(symbols)}</symbols>\n'
            "</renderer-v2>\n<blendMode>0</blendMode>\n<featureBlendMode>0</featureBlendMode>\n"
            f"<layerGeometryType>2</layerGeometryType>\n</qgis>\n")


def add_layer_style(gpkg: str | Path, layer: str) -> None:
    """Store ``footprint_qml()`` as the default style of ``layer`` in the GeoPackage. ``layer_styles`` is not
    registered in ``gpkg_contents``: QGIS finds it by name, and GDAL readers then see only the footprints layer."""
    with closing(sqlite3.connect(gpkg)) as db, db:
        row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
        geometry_column = row[0] if row else "geom"
        db.execute(LAYER_STYLES_SQL)
        db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (layer,))
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
            "styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
            (layer, geometry_column, STYLE_NAME, footprint_qml(),
             escape("Review status colours as in Footprint Studio; likely-fused footprints outlined in magenta")),
        )
