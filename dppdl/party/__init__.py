"""dppdl.party"""
