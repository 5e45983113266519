/* vp8_tables: the constant tables that define the VP8 bitstream.
 *
 * These numbers are part of the format, not of any implementation: every
 * encoder and decoder must use exactly these values to interoperate. They
 * are transcribed from RFC 6386 (the VP8 data format), the section named
 * at each table. Internal to codec/. */
#ifndef TDM_VP8_TABLES_H
#define TDM_VP8_TABLES_H

#include <stdint.h>

#define TDM_VP8_BLOCK_TYPES 4   /* 0 Y after Y2, 1 Y2, 2 U/V, 3 Y with DC */
#define TDM_VP8_COEF_BANDS 8
#define TDM_VP8_COEF_CONTEXTS 3
#define TDM_VP8_COEF_NODES 11   /* num_dct_tokens - 1 */

typedef uint8_t tdm_vp8_coef_probs[TDM_VP8_BLOCK_TYPES][TDM_VP8_COEF_BANDS]
                                  [TDM_VP8_COEF_CONTEXTS][TDM_VP8_COEF_NODES];

/* RFC 6386 13.5: the token probabilities a keyframe resets to. */
extern const tdm_vp8_coef_probs tdm_vp8_default_coef_probs;
/* RFC 6386 13.4: the fixed probabilities of each "update" flag. */
extern const tdm_vp8_coef_probs tdm_vp8_coef_update_probs;
/* RFC 6386 14.1: quantiser step per index, DC and AC. */
extern const int16_t tdm_vp8_dc_q[128];
extern const int16_t tdm_vp8_ac_q[128];
/* RFC 6386 13.3: coefficient position -> band. */
extern const uint8_t tdm_vp8_coef_bands[16];
/* RFC 6386 13: zig-zag scan position -> raster index in the 4x4 block. */
extern const uint8_t tdm_vp8_zigzag[16];
/* RFC 6386 13.2: the extra-bit probabilities of dct_cat1..6, 0-terminated. */
extern const uint8_t *const tdm_vp8_cat_probs[6];
extern const int tdm_vp8_cat_base[6];
/* RFC 6386 16.3: mv_ref tree probabilities by neighbour census. */
extern const uint8_t tdm_vp8_mode_contexts[6][4];
/* RFC 6386 17.2: update-flag probabilities of the two MV contexts. */
extern const uint8_t tdm_vp8_mv_update_probs[2][19];

#endif
