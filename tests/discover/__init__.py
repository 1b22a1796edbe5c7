"""Tests of spfmanager.discover."""
