"""The Review map's OpenStreetMap layer: the buildings of an extract under the import folder that lie on the tile
go to the map as GeoJSON features; a path outside the import folder, or a file that is not an OSM extract by its
content, is refused with one line."""
from __future__ import annotations

import pytest

from app import review_page as page
from app.map_view import map_data
from app.tile_view import load_tile_view
from db.queries import project_tiles
from db.session import transaction
from errors import UserError
from test_osm import osm_xml, project  # noqa: F401 - the project fixture (one 64 m tile with four labels)


def test_osm_buildings_on_the_tile_reach_the_map(project, data_home):
    imports = data_home / "imports"
    imports.mkdir(exist_ok=True)
    extract = osm_xml(imports)
    with transaction() as session:
        tile_id = project_tiles(session, "p")[0].id
    features = page.osm_features(extract.name, tile_id)
    refs = sorted(f["properties"]["osm"] for f in features)
    assert len(refs) == 3 and "r5000" in refs  # two ways and the multipolygon school; the road is no building
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)
    data = map_data(load_tile_view(tile_id), 0, None, [], features)
    assert data["osm"] == features


def test_osm_extract_outside_the_import_folder_or_not_osm_is_refused(project, data_home):
    with transaction() as session:
        tile_id = project_tiles(session, "p")[0].id
    outside = osm_xml(project["tmp"])
    with pytest.raises(UserError) as refused:
        page.osm_features(str(outside), tile_id)
    assert "\n" not in str(refused.value)
    imports = data_home / "imports"
    imports.mkdir(exist_ok=True)
    (imports / "trick.osm").write_text('<VRTDataset rasterXSize="1" rasterYSize="1"></VRTDataset>')
    with pytest.raises(UserError, match="is not an OSM extract"):
        page.osm_features("trick.osm", tile_id)
    assert page.osm_features("  ", tile_id) == []
