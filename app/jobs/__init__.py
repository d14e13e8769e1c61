"""The jobs Kith runs, one module each: subscribe, refresh (and the comment threads and
people links it follows), score, schedule, work, digest."""
