"""The density row's memory figure is its instance's own: a spawned process's peak, not its parent's."""

import multiprocessing
import resource

from bench.density_instance import status_mb


def _peak(conn) -> None:
    conn.send((status_mb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def test_a_spawned_instance_reports_its_own_peak_not_its_parent_s():
    held = bytearray(300 * 1024 * 1024)
    for i in range(0, len(held), 4096):  # resident, not only reserved
        held[i] = 1
    spawn = multiprocessing.get_context("spawn")
    mine, theirs = spawn.Pipe()
    child = spawn.Process(target=_peak, args=(theirs,))
    child.start()
    own, inherited = mine.recv()
    child.join(30)
    assert inherited >= 300  # what the row read before: the parent's size at the fork, kept across the exec
    assert own < 150  # the instance's own peak: an interpreter with the bench's imports
