"""dppdl.sim"""
