import json
from datetime import datetime, timedelta

from graphrisk.detectors import IpHopping
from graphrisk.testing import world


def hops(acc: str, n: int, hours: int = 8, day: int = 1) -> list[tuple]:
    return [
        (acc, "D1", f"2026-01-{day:02d}T00:00:00", f"9.9.{day}.{i}", f"C{i}")
        if i == 0
        else (
            acc,
            "D1",
            f"2026-01-{day + (i * hours) // 24:02d}T{(i * hours) % 24:02d}:00",
            f"9.9.{day}.{i}",
            f"C{i}",
        )
        for i in range(n)
    ]


def test_five_cities_in_two_days_with_evidence():
    flags = IpHopping().detect(world(devices=hops("h", 5))).flags
    assert flags["account_id"].to_list() == ["h"] and flags["severity"][0] == 1
    ev = json.loads(flags["evidence"][0])
    assert ev["n_cities"] == 5 and ev["cities"] == ["C0", "C1", "C2", "C3", "C4"]
    assert ev["threshold"]["min_cities"] == 5 and ev["threshold"]["window_hours"] == 48


def test_traveller_over_two_weeks_stays_clean():
    rows = []
    for c in range(4):
        for k in range(4):  # four logins, each from a new hotel/mobile address
            rows.append(
                (
                    "t",
                    "D1",
                    f"2026-01-{1 + 4 * c + k // 2:02d}T{8 + k:02d}:00",
                    f"7.{c}.0.{k}",
                    f"City{c}",
                )
            )
    assert IpHopping().detect(world(devices=rows)).flags.is_empty()


def test_threshold_edge_window_and_override():
    assert IpHopping().detect(world(devices=hops("h", 4))).flags.is_empty()
    slow = hops("s", 5, hours=13)  # 5 cities over 52 hours
    assert IpHopping().detect(world(devices=slow)).flags.is_empty()
    assert IpHopping(window_hours=60).detect(world(devices=slow)).flags.height == 1
    assert IpHopping(min_cities=4).detect(world(devices=hops("h", 4))).flags.height == 1


def test_many_addresses_need_several_cities():
    one_city = [("m", "D1", f"2026-01-01T{h:02d}:00", f"5.5.5.{h}", "Home") for h in range(8)]
    assert IpHopping().detect(world(devices=one_city)).flags.is_empty()
    three = [("m", "D1", f"2026-01-01T{h:02d}:00", f"5.5.5.{h}", f"C{h % 3}") for h in range(8)]
    ev = json.loads(IpHopping().detect(world(devices=three)).flags["evidence"][0])
    assert ev["n_ips"] == 8 and ev["n_cities"] == 3
    # switching between three cities within hours: the fast window's address rule
    assert ev["window_name"] == "fast" and ev["threshold"]["min_ips"] == 6
    # the same eight addresses over three cities spread over two days are a journey
    slow = [("m", "D1", f"2026-01-0{1 + h // 4}T{6 * (h % 4):02d}:00", f"5.5.5.{h}", f"C{h // 3}")
            for h in range(8)]  # fmt: skip
    assert IpHopping().detect(world(devices=slow)).flags.is_empty()


def _spread(acc: str, n: int, hours: float, start: str = "2026-01-01T00:00") -> list[tuple]:
    """``n`` cities, one login each, ``hours`` apart."""
    t0 = datetime.fromisoformat(start)
    return [
        (acc, "D1", (t0 + timedelta(hours=hours * i)).isoformat(), f"8.8.0.{i}", f"W{i}")
        for i in range(n)
    ]


def test_six_to_ten_cities_in_a_week_are_found_and_name_the_week() -> None:
    for n in (6, 8, 10):
        flags = IpHopping().detect(world(devices=_spread("w", n, 150 / (n - 1)))).flags
        ev = json.loads(flags["evidence"][0])
        assert (ev["window_name"], ev["window_hours"], ev["n_cities"]) == ("week", 168, n)
        assert ev["threshold"]["min_cities"] == 6 and ev["threshold"]["min_ips"] is None
    # five cities in a week is a trip, not hopping; a week window at 0 is off
    assert IpHopping().detect(world(devices=_spread("w", 5, 36))).flags.is_empty()
    assert IpHopping(week_min_cities=0).detect(world(devices=_spread("w", 6, 30))).flags.is_empty()


def test_a_traveller_visiting_three_cities_in_a_week_stays_clean() -> None:
    rows = []
    for c in range(3):  # two days in each, four logins a day, each from a new address
        for k in range(8):
            rows.append(("t", "D1", f"2026-01-{1 + 2 * c + k // 4:02d}T{8 + 3 * (k % 4):02d}:00",
                         f"7.{c}.0.{k}", f"City{c}"))  # fmt: skip
    rows.append(("t", "D1", "2026-01-03T07:00", "10.0.0.1", "Home"))
    assert IpHopping().detect(world(devices=rows)).flags.is_empty()


def test_hours_window_and_tempo() -> None:
    four = _spread("f", 4, 3)  # four cities in nine hours
    ev = json.loads(IpHopping().detect(world(devices=four)).flags["evidence"][0])
    assert (ev["window_name"], ev["window_hours"]) == ("fast", 12)
    # the same six cities score higher the faster they are visited
    scores = [
        IpHopping().detect(world(devices=_spread("s", 6, h))).flags["score"][0] for h in (2, 8, 25)
    ]
    assert scores[0] > scores[1] > scores[2]
