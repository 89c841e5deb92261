"""devbench.profile.attribution against folded stacks made by hand: which functions are
listed, in which order, called from where, and every sentence, worked by hand."""

from collections import Counter

import pytest

from devbench.profile.attribution import MIN_SAMPLES, TOP, attribute, callers, event_note, grown_caller

UNNAMED = Counter({"fb;fork;copy_process;vm_area_dup": 300, "fb;exit;exit_mmap;kmem_cache_free": 100})
# the strdup kernel's named arm: the unnamed arm's work, plus a copy of the name per VMA and its free
STRDUP = UNNAMED + Counter({"fb;fork;copy_process;vm_area_dup_fork;strlen": 80,
                            "fb;fork;copy_process;vm_area_dup_fork;anon_vma_name_alloc;__kmalloc": 40,
                            "fb;exit;exit_mmap;anon_vma_name_free;kfree": 30})


def test_the_strdup_shape_is_attributed_to_the_copy_and_its_free_largest_growth_first():
    a = attribute(UNNAMED, STRDUP)
    assert (a.status, a.unnamed_samples, a.named_samples, a.added_samples) == ("attributed", 400, 550, 150)
    assert [(g.function, g.called_from) for g in a.growth] == [
        ("strlen", "vm_area_dup_fork"), ("__kmalloc", "anon_vma_name_alloc"), ("kfree", "anon_vma_name_free")]
    g = a.growth[2]
    # kfree: 0 of 400 -> 30 of 550 = 5.4545%; pooled p = 30/950, se = sqrt(p(1-p)(1/400 + 1/550)) = 0.011494
    assert (g.unnamed_samples, g.named_samples, g.unnamed_pct) == (0, 30, 0.0)
    assert g.named_pct == pytest.approx(5.454545, abs=1e-6) and g.points == pytest.approx(5.454545, abs=1e-6)
    assert g.z == pytest.approx(4.7456, abs=1e-3)
    assert a.sentence == ("named − unnamed: the added samples are mostly in strlen (called from vm_area_dup_fork), "
                          "__kmalloc (called from anon_vma_name_alloc) and kfree (called from anon_vma_name_free); "
                          "these 3 gained 150 samples, the named arm 150 in all.")
    j = a.to_json()
    assert (j["status"], j["samples"], j["added_samples"], j["noise_z"], j["min_points"], j["min_samples"]) == (
        "attributed", {"unnamed": 400, "named": 550}, 150, 3.0, 0.1, MIN_SAMPLES)
    assert j["growth"][0]["function"] == "strlen" and j["largest_below_noise"] is None


def test_functions_with_one_caller_are_named_together_and_the_vma_copy_inlined_grows_in_place():
    # the refcount kernel: kref_get inlined into vm_area_dup, kref_put into __vm_area_free
    named = Counter({"fb;fork;copy_process;vm_area_dup": 200, "fb;exit;exit_mmap;remove_vma;__vm_area_free": 120,
                     "fb;fork;copy_process": 1000})
    unnamed = Counter({"fb;fork;copy_process;vm_area_dup": 100, "fb;exit;exit_mmap;remove_vma;__vm_area_free": 50,
                       "fb;fork;copy_process": 1000})
    a = attribute(unnamed, named)
    assert [g.function for g in a.growth] == ["vm_area_dup", "__vm_area_free"]
    assert a.sentence == ("named − unnamed: the added samples are mostly in vm_area_dup (called from copy_process) "
                          "and __vm_area_free (called from remove_vma); these 2 gained 170 samples, the named arm 170 "
                          "in all.")
    same_caller = attribute(UNNAMED, UNNAMED + Counter({"fb;fork;copy_process;vm_area_dup_fork;strlen": 80,
                                                        "fb;fork;copy_process;vm_area_dup_fork;memcpy": 60}))
    assert "mostly in strlen, memcpy (called from vm_area_dup_fork); these 2 gained 140" in same_caller.sentence


def test_the_caller_is_the_one_whose_share_grew_not_the_most_common():
    unnamed = Counter({"p;a;kmem_cache_free;__slab_free": 100, "p;a;b": 300})
    named = Counter({"p;a;kmem_cache_free;__slab_free": 100, "p;a;kfree;__slab_free": 60, "p;a;b": 300})
    assert callers(named, "__slab_free") == Counter({"kmem_cache_free": 100, "kfree": 60})
    assert grown_caller(unnamed, named, "__slab_free", 400, 460) == "kfree"
    [g] = attribute(unnamed, named).growth
    assert (g.function, g.called_from) == ("__slab_free", "kfree")
    # recursion is skipped; a leaf right under the process name has no caller
    assert callers(Counter({"p;f;g;g": 2, "p;g": 1}), "g") == Counter({"f": 2})
    assert grown_caller(Counter(), Counter({"p;g": 5}), "g", 0, 5) is None


def test_no_growth_beyond_the_noise_says_the_profile_cannot_attribute():
    unnamed = Counter({"p;a": 500, "p;b": 500})
    named = Counter({"p;a": 520, "p;b": 480})  # a: 50% -> 52%, z = 0.895
    a = attribute(unnamed, named)
    assert (a.status, a.growth) == ("no-growth", ())
    assert a.largest is not None and a.largest.function == "a" and a.largest.z == pytest.approx(0.8951, abs=1e-3)
    assert a.sentence == ("named − unnamed: no function's share grows beyond sampling noise (z ≥ 3 and 0.1 points; "
                          "1000 unnamed, 1000 named samples): this profile cannot attribute the difference. The "
                          "largest growth, "
                          "a +2.00 points (z +0.9), is within the noise. More profiled forks (profile.forks) or a "
                          "higher frequency resolve a smaller growth.")
    assert attribute(unnamed, unnamed).sentence.endswith("cannot attribute the difference. More profiled forks "
                                                         "(profile.forks) or a higher frequency resolve a smaller "
                                                         "growth.")


def test_too_few_samples_and_a_missing_arm():
    small = Counter({"p;a": MIN_SAMPLES - 1})
    a = attribute(small, Counter({"p;a": 500}))
    assert (a.status, a.growth) == ("too-few-samples", ())
    assert a.sentence == (f"named − unnamed: too few samples to attribute ({MIN_SAMPLES - 1} unnamed, 500 named; "
                          f"{MIN_SAMPLES} per arm at least): profile more forks (profile.forks) or at a higher "
                          "frequency (profile.frequency).")
    one = attribute(UNNAMED, None)
    assert (one.status, one.unnamed_samples, one.named_samples) == ("one-arm", 400, 0)
    assert one.sentence == "named − unnamed: cannot attribute, only the unnamed arm was profiled."
    assert attribute(None, STRDUP).sentence.endswith("only the named arm was profiled.")
    assert attribute(None, None).sentence.endswith("no scenario has both arms profiled.")
    assert attribute(None, None).to_json()["added_samples"] is None


def test_growth_spread_thin_is_not_called_mostly_and_fewer_samples_are_not_read_as_no_added_work():
    spread = Counter({f"p;x;f{i}": 10 for i in range(20)})  # 1.56% each from 0: z 2.5, within the noise
    a = attribute(UNNAMED, UNNAMED + spread + Counter({"p;fork;vm_area_dup_fork;strlen": 40}))
    assert [g.function for g in a.growth] == ["strlen"]
    assert a.sentence == ("named − unnamed: the share grows most in strlen (called from vm_area_dup_fork); "
                          "it gained 40 samples, the named arm 240 in all.")
    shifted = Counter({"fb;fork;copy_process;vm_area_dup": 200, "fb;exit;exit_mmap;kmem_cache_free": 200})
    s = attribute(UNNAMED, shifted)
    assert s.sentence == ("named − unnamed: the share grows most in kmem_cache_free (called from exit_mmap) (the "
                          "named arm has no more samples than the unnamed arm, 400 against 400: the shares moved; "
                          "the totals do not show the added work, the fork times do).")
    d = attribute(UNNAMED, STRDUP, same_forks=False)
    assert d.added_samples is None
    assert d.sentence.endswith("kfree (called from anon_vma_name_free) (the arms profiled different numbers of forks).")


def test_a_tiny_growth_is_not_listed_however_large_its_z():
    # 0 -> 13 of 37,000 samples: z 3.6, 0.035 points (the refcount kernel's pcpu_alloc_noprof under icount)
    unnamed = Counter({"p;a": 20000, "p;b": 17000})
    named = Counter({"p;a": 20000, "p;b": 16987, "p;mm_init;pcpu_alloc_noprof": 13})
    a = attribute(unnamed, named)
    assert a.status == "no-growth" and a.largest is not None and a.largest.function == "pcpu_alloc_noprof"
    assert a.largest.z > 3 and a.largest.points < 0.1


def test_at_most_top_functions_and_never_an_unsymbolised_one():
    grown = Counter({f"p;c;g{i}": 60 + i for i in range(TOP + 2)}) + Counter({"p;c;[unknown]": 200})
    a = attribute(Counter({"p;c;base": 1000}), Counter({"p;c;base": 1000}) + grown)
    assert [g.function for g in a.growth] == [f"g{i}" for i in range(TOP + 1, 1, -1)]
    assert "[unknown]" not in a.sentence


def test_the_event_note_says_what_one_sample_is():
    assert event_note("perf", "cpu-clock", 20000, "icount") == (
        "perf cpu-clock at 20000 Hz of the guest's clock, which under icount counts instructions, one sample every "
        "50,000 guest instructions: a share is of the emulated CPU's instructions, not of a phone's time")
    assert event_note("perf", "cpu-clock", "x", "icount").startswith(
        "perf cpu-clock at x Hz of the guest's clock, which under icount counts instructions: a share")
    assert event_note("perf", "cpu-clock", 2000, "real") == (
        "perf cpu-clock at 2000 Hz of an emulated CPU (QEMU TCG): a share is of host time spent emulating, not of a "
        "phone's time")
    assert event_note("simpleperf", "cpu-cycles", 4000, None) == "simpleperf cpu-cycles at 4000 Hz"
