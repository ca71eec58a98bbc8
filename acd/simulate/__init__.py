"""The routing simulator (`acd simulate`): the real routing core in virtual time.

scenario.py reads and checks a scenario (TOML); engine.py runs it as discrete events; every
routing decision goes through decide.py, the one seam to acd.core; results.py turns the counts
into the service's own figures with an Erlang C prediction beside them; render.py prints them.
"""
