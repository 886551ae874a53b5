//! `max_num_reorder_frames` of an H.264 SPS: how many frames may precede a
//! frame in decode order and follow it in output order. The passthrough
//! needs it to derive decode times from a producer's presentation times
//! (B-frames); the record builder does not.
//!
//! The value sits at the end of the SPS, in the VUI's bitstream
//! restriction (ITU-T H.264 §7.3.2.1.1, §E.1.1), so everything before it
//! is walked: scaling lists, the picture order count fields, cropping, and
//! the VUI's optional blocks including HRD parameters (§E.1.2). Signed
//! Exp-Golomb values are skipped with `ue`: `se(v)` has the same code
//! length.

use super::bits::{BitError, Rbsp};

/// Longest reorder any level allows (`MaxDpbFrames` is at most 16, §A.3.1).
const MAX_REORDER: u32 = 16;

/// What the SPS said before the point where [`reorder_after_id`] starts.
pub(super) struct Head {
    pub profile_idc: u8,
    /// The constraint flags byte (`constraint_set0_flag` is the MSB).
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// `chroma_format_idc` when the SPS carried it (High profiles).
    pub chroma_format_idc: Option<u32>,
}

/// Profiles whose SPS carries `chroma_format_idc`, bit depths and scaling
/// matrices (§7.3.2.1.1, the `if( profile_idc = = 100 || ...)` list).
pub(super) const PROFILES_WITH_CHROMA_FIELDS: [u8; 13] =
    [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Reads on from just after the bit depths (High profiles) or just after
/// `seq_parameter_set_id` (others) and returns `max_num_reorder_frames`,
/// inferred per §E.2.1 when the bitstream restriction is absent. Baseline
/// (66) has no B slices, so it is 0 there whatever the inference says.
pub(super) fn reorder_after_id(r: &mut Rbsp, head: &Head) -> Result<u32, BitError> {
    if let Some(chroma_format_idc) = head.chroma_format_idc {
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            // seq_scaling_matrix_present_flag
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.ue()?; // offset_for_non_ref_pic (se)
            r.ue()?; // offset_for_top_to_bottom_field (se)
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err("num_ref_frames_in_pic_order_cnt_cycle over 255");
            }
            for _ in 0..cycle {
                r.ue()?; // offset_for_ref_frame[i] (se)
            }
        }
        2 => {}
        _ => return Err("pic_order_cnt_type over 2"),
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // frame_crop_*_offset
        }
    }
    // Each factor is at most 2^32: the product can overflow (fuzzing found it).
    let frame_mbs = width_mbs
        .saturating_mul(height_map_units)
        .saturating_mul(if frame_mbs_only { 1 } else { 2 });
    let stated = if r.flag()? { vui_reorder(r)? } else { None };
    let reorder = match stated {
        Some(n) => n,
        None if head.profile_idc == 66 => 0,
        None if [44, 86, 100, 110, 122, 244].contains(&head.profile_idc)
            && head.constraint_flags & 0x10 != 0 =>
        {
            0
        }
        None => max_dpb_frames(head, frame_mbs),
    };
    if reorder > MAX_REORDER {
        return Err("max_num_reorder_frames over 16");
    }
    Ok(reorder)
}

/// `scaling_list()` (§7.3.2.1.1.1): only `delta_scale` values, up to the
/// first that makes `nextScale` 0.
fn skip_scaling_list(r: &mut Rbsp, size: usize) -> Result<(), BitError> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let code = i64::from(r.ue()?);
            // se(v) from the ue code number (§9.1.1).
            let delta = if code % 2 == 1 {
                (code + 1) / 2
            } else {
                -(code / 2)
            };
            next = (last + delta).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// The VUI up to `max_num_reorder_frames` (§E.1.1); `None` when
/// `bitstream_restriction_flag` is 0.
fn vui_reorder(r: &mut Rbsp) -> Result<Option<u32>, BitError> {
    if r.flag()? && r.bits(8)? == 255 {
        // aspect_ratio_idc Extended_SAR: sar_width, sar_height
        r.skip(32)?;
    }
    if r.flag()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.flag()? {
        // video_format, video_full_range_flag
        r.skip(4)?;
        if r.flag()? {
            r.skip(24)?; // colour_primaries, transfer, matrix
        }
    }
    if r.flag()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if r.flag()? {
        r.skip(65)?; // num_units_in_tick, time_scale, fixed_frame_rate_flag
    }
    let nal_hrd = r.flag()?;
    if nal_hrd {
        skip_hrd(r)?;
    }
    let vcl_hrd = r.flag()?;
    if vcl_hrd {
        skip_hrd(r)?;
    }
    if nal_hrd || vcl_hrd {
        r.skip(1)?; // low_delay_hrd_flag
    }
    r.skip(1)?; // pic_struct_present_flag
    if !r.flag()? {
        return Ok(None);
    }
    r.skip(1)?; // motion_vectors_over_pic_boundaries_flag
    for _ in 0..4 {
        // max_bytes_per_pic_denom, max_bits_per_mb_denom,
        // log2_max_mv_length_horizontal, log2_max_mv_length_vertical
        r.ue()?;
    }
    Ok(Some(r.ue()?))
}

/// `hrd_parameters()` (§E.1.2).
fn skip_hrd(r: &mut Rbsp) -> Result<(), BitError> {
    let cpb_cnt = r.ue()? + 1;
    if cpb_cnt > 32 {
        return Err("cpb_cnt_minus1 over 31");
    }
    r.skip(8)?; // bit_rate_scale, cpb_size_scale
    for _ in 0..cpb_cnt {
        r.ue()?; // bit_rate_value_minus1
        r.ue()?; // cpb_size_value_minus1
        r.skip(1)?; // cbr_flag
    }
    // initial_cpb_removal_delay_length_minus1, cpb_removal_delay_length_minus1,
    // dpb_output_delay_length_minus1, time_offset_length
    r.skip(20)
}

/// `MaxDpbFrames` = Min(MaxDpbMbs / (PicWidthInMbs * FrameHeightInMbs), 16)
/// (§A.3.1, MaxDpbMbs from Table A-1; level 1b is `level_idc` 11 with
/// `constraint_set3_flag` outside the High profiles, or 9).
fn max_dpb_frames(head: &Head, frame_mbs: u64) -> u32 {
    let level_1b = head.level_idc == 9
        || head.level_idc == 11
            && head.constraint_flags & 0x10 != 0
            && ![100, 110, 122, 244].contains(&head.profile_idc);
    let max_dpb_mbs: u64 = match head.level_idc {
        _ if level_1b => 396,
        10 => 396,
        11 => 900,
        12 | 13 | 20 => 2376,
        21 => 4752,
        22 | 30 => 8100,
        31 => 18000,
        32 => 20480,
        40 | 41 => 32768,
        42 => 34816,
        50 => 110_400,
        51 | 52 => 184_320,
        _ => 696_320, // 6, 6.1, 6.2 and anything newer
    };
    // frame_mbs >= 1; the result is at most 16.
    (max_dpb_mbs / frame_mbs.max(1)).min(u64::from(MAX_REORDER)) as u32
}
