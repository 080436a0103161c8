print("dns01")
