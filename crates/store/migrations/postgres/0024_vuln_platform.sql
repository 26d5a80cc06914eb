-- An NVD advisory may affect a product only on a platform (Firefox on
-- Windows: an AND configuration). A match whose platform the system's
-- inventory does not list names that platform here, for a person to
-- confirm; '' when the advisory has no such condition or the inventory
-- meets it.
ALTER TABLE vuln_match ADD COLUMN platform TEXT NOT NULL DEFAULT '';
