"""Domain services: pure logic on top of the store."""
