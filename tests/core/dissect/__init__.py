"""Tests of the packet-details dissector (app.core.dissect)."""
