"""Who saturated first (load/cpu.py), on recorded samples: (time, {pid: CPU seconds}, server CPU)."""

from imapwright.load.cpu import analyse, saturated_first


def _samples(per_second: list[tuple[float, float, float]]) -> list:
    """(busiest process's, second process's, server's) CPU use per second -> cumulative samples."""
    out, a, b, srv = [(0.0, {1: 0.0, 2: 0.0}, 0.0)], 0.0, 0.0, 0.0
    for t, (da, db, ds) in enumerate(per_second, start=1):
        a, b, srv = a + da, b + db, srv + ds
        out.append((float(t), {1: a, 2: b}, srv))
    return out


def test_a_locust_process_flat_out_for_more_than_a_tenth_of_the_run_is_generator_bound():
    cpu = analyse(_samples([(0.5, 0.1, 0.5)] * 8 + [(0.97, 0.1, 0.6)] * 2), cores=2)
    assert cpu["generator_bound"] and cpu["busy_share"] == 0.2 and cpu["generator_busy_from"] == 9.0


def test_a_tenth_or_less_is_not_and_two_half_busy_processes_are_not():
    assert not analyse(_samples([(0.5, 0.1, 0.5)] * 9 + [(0.97, 0.1, 0.6)]), cores=2)["generator_bound"]
    assert not analyse(_samples([(0.6, 0.6, 0.7)] * 10), cores=2)["generator_bound"]


def test_the_side_that_ran_flat_out_first_saturated_first():
    server_first = analyse(_samples([(0.3, 0.0, 1.6)] * 5 + [(0.95, 0.0, 1.0)] * 5), cores=2)
    assert server_first["server_busy_from"] == 1.0 and saturated_first(server_first) == "server"
    generator_first = analyse(_samples([(0.95, 0.0, 0.4)] * 5 + [(0.3, 0.0, 1.7)] * 5), cores=2)
    assert saturated_first(generator_first) == "generator"
    # Before the capacity step that crossed the threshold ended, neither had run flat out.
    assert saturated_first(generator_first, until=0.5) == "neither"


def test_without_the_servers_counter_only_the_generator_is_judged():
    samples = [(t, gen, None) for t, gen, _ in _samples([(0.95, 0.0, 0.0)] * 4)]
    cpu = analyse(samples, cores=2)
    assert cpu["generator_bound"] and not cpu["server_measured"] and saturated_first(cpu) == "generator"


def test_a_process_starved_of_cpu_but_always_runnable_is_bound_too():
    """On a busy machine the generator gets less than 90% of a core yet never waits for the far side:
    the 20 Hz glimpses that found it runnable say what it wanted."""
    starved = [(0.0, {1: [0.0, 0, 0]}, None)] + [(float(t), {1: [0.4 * t, 19 * t, 20 * t]}, None) for t in range(1, 6)]
    idle = [(0.0, {1: [0.0, 0, 0]}, None)] + [(float(t), {1: [0.4 * t, 2 * t, 20 * t]}, None) for t in range(1, 6)]
    assert analyse(starved, cores=2)["generator_bound"]
    assert not analyse(idle, cores=2)["generator_bound"]


def test_start_up_before_the_first_request_is_not_judged():
    """Locust imports its modules flat out for a second or two; that is not the load."""
    samples = _samples([(0.98, 0.0, 0.0)] * 2 + [(0.2, 0.0, 0.3)] * 8)
    assert analyse(samples, cores=2)["generator_bound"]
    assert not analyse(samples, cores=2, since=2.0)["generator_bound"]
