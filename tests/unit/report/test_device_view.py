"""devbench.report.device_view: device readings in their units, untrusted shapes shown as they are."""

from devbench.report.device_view import celsius, conditions_table, facts_rows, gib, mhz


def test_units():
    assert celsius(41000) == "41.0 °C" and celsius(None) == "-" and celsius("hot") == "hot"
    assert mhz(1804800) == "1804.8 MHz" and mhz(2400000) == "2400 MHz" and mhz(True) == "True"
    assert gib(8_388_608) == "8.0 GiB" and gib("x") == "-"


def test_conditions_table_has_a_column_per_policy_and_zone():
    readings = [{"when": "before", "time": "t0", "freq_khz": {"policy0": 1800000}, "temp_mc": {"zone0": 41000}},
                {"when": "after unpopulated", "time": "t1", "freq_khz": {"policy0": 300000, "policy4": 2400000},
                 "temp_mc": {}}, "junk"]
    header, rows = conditions_table(readings)
    assert header == ["when", "time", "policy0 (MHz)", "policy4 (MHz)", "zone0 (°C)"]
    assert rows == [
        ["before", "t0", "1800 MHz", "-", "41.0 °C"],
        ["after unpopulated", "t1", "300 MHz", "2400 MHz", "-"],
    ]
    assert conditions_table([]) is None and conditions_table({"x": 1}) is None
    assert conditions_table([{"when": "before", "freq_khz": {}, "temp_mc": {}}]) is None


def test_facts_rows_say_their_units():
    facts = {"machine": "aarch64", "kernel_release": "6.1", "mem_total_kb": 8_388_608, "mem_available_kb": None,
             "cpufreq": [{"name": "policy0", "cpus": [0, 1], "governor": "schedutil", "cur_khz": 1800000,
                          "min_khz": 300000, "max_khz": 1800000, "hw_min_khz": 300000, "hw_max_khz": 1800000}],
             "thermal": [{"name": "thermal_zone0", "type": "cpu", "temp": 41000,
                          "trips": [{"name": "trip_point_0", "temp": 95000, "type": "passive"}]}]}
    rows = dict(facts_rows(facts))
    assert rows["memory total"] == "8.0 GiB" and rows["memory available"] == "-"
    assert rows["cpufreq policy0"] == ("CPUs [0, 1], governor schedutil, now 1800 MHz, scaling 300 MHz to 1800 MHz, "
                                       "hardware 300 MHz to 1800 MHz")
    assert rows["thermal thermal_zone0"] == "cpu: 41.0 °C (trip points: passive 95.0 °C)"
    assert facts_rows(None) == [] and facts_rows("x") == []
