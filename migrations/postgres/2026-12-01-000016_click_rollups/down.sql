DROP TABLE click_rollups;
