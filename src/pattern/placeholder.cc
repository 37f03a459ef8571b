namespace liaison::pattern {}
