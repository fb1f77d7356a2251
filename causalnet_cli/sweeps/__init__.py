"""``causalnet sweep``: sweep files, the sweep folder and the run of every cell on a backend."""
