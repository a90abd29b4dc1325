"""dppdl.crypto"""
