/* stamp.c: the frame stamp (tdm_stamp.h): packing a frame number and a
 * capture time into black/white cells, and reading them back from BGRA or
 * from a decoded luma plane. */
#include "tdm_stamp.h"

#include <stdbool.h>
#include <string.h>

/* Bit layout, most significant bit first, row-major over the cells:
 * magic (8) | frame number (32) | capture time (56) | CRC-16 (16) = 112. */
#define STAMP_MAGIC 0xB5u
#define STAMP_BYTES 14
#define STAMP_BITS (STAMP_BYTES * 8)
#define TIME_MASK ((UINT64_C(1) << 56) - 1)

_Static_assert(STAMP_BITS == TDM_STAMP_COLS * TDM_STAMP_ROWS, "stamp payload fills the grid");

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): every single- and
 * double-cell misread is detected. */
static uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void pack(tdm_stamp s, uint8_t b[STAMP_BYTES])
{
    uint64_t t = s.capture_us & TIME_MASK;
    b[0] = STAMP_MAGIC;
    for (int i = 0; i < 4; i++)
        b[1 + i] = (uint8_t)(s.frame_number >> (24 - 8 * i));
    for (int i = 0; i < 7; i++)
        b[5 + i] = (uint8_t)(t >> (48 - 8 * i));
    uint16_t crc = crc16_ccitt(b, 12);
    b[12] = (uint8_t)(crc >> 8);
    b[13] = (uint8_t)crc;
}

static tdm_status unpack(const uint8_t b[STAMP_BYTES], tdm_stamp *out)
{
    if (b[0] != STAMP_MAGIC)
        return TDM_ERR_FORMAT;
    if (crc16_ccitt(b, 12) != (uint16_t)((b[12] << 8) | b[13]))
        return TDM_ERR_FORMAT;
    tdm_stamp s = {0, 0};
    for (int i = 0; i < 4; i++)
        s.frame_number = (s.frame_number << 8) | b[1 + i];
    for (int i = 0; i < 7; i++)
        s.capture_us = (s.capture_us << 8) | b[5 + i];
    if (out)
        *out = s;
    return TDM_OK;
}

static bool fits(int width, int height, int x, int y)
{
    return width > 0 && height > 0 && x >= 0 && y >= 0 && x <= width - TDM_STAMP_WIDTH &&
           y <= height - TDM_STAMP_HEIGHT;
}

tdm_status tdm_stamp_write_bgra(uint8_t *bgra, int stride, int width, int height, int x, int y,
                                tdm_stamp stamp)
{
    if (!bgra || stride < 4 * width)
        return TDM_ERR_INVALID;
    if (!fits(width, height, x, y))
        return TDM_ERR_RANGE;
    uint8_t b[STAMP_BYTES];
    pack(stamp, b);
    for (int row = 0; row < TDM_STAMP_ROWS; row++) {
        /* One pixel row of a cell row is built once, then repeated: the
         * stamp is rewritten every frame, so keep it to 56 memcpy calls. */
        uint8_t line[TDM_STAMP_WIDTH * 4];
        for (int col = 0; col < TDM_STAMP_COLS; col++) {
            int bit = row * TDM_STAMP_COLS + col;
            uint8_t v = (b[bit >> 3] >> (7 - (bit & 7))) & 1 ? 255 : 0;
            for (int px = 0; px < TDM_STAMP_CELL; px++) {
                uint8_t *p = line + 4 * (col * TDM_STAMP_CELL + px);
                p[0] = p[1] = p[2] = v;
                p[3] = 255;
            }
        }
        for (int py = 0; py < TDM_STAMP_CELL; py++) {
            size_t off = (size_t)(y + row * TDM_STAMP_CELL + py) * (size_t)stride + (size_t)x * 4;
            memcpy(bgra + off, line, sizeof line);
        }
    }
    return TDM_OK;
}

/* The sampled 4x4 centre of each cell stays clear of the ringing that a
 * coder leaves along the cell edges. */
#define SAMPLE_OFF 2
#define SAMPLE_N 4

static tdm_status decide(const int avg[STAMP_BITS], tdm_stamp *out)
{
    /* Threshold halfway between the darkest and brightest cell rather than
     * at a fixed 128, so limited-range luma (16..235) and a coder's shift
     * in brightness both read the same. The magic byte always holds both
     * values, so a real stamp has a spread. */
    int lo = avg[0], hi = avg[0];
    for (int i = 1; i < STAMP_BITS; i++) {
        if (avg[i] < lo)
            lo = avg[i];
        if (avg[i] > hi)
            hi = avg[i];
    }
    if (hi - lo < 32)
        return TDM_ERR_FORMAT;
    int mid = (lo + hi) / 2;
    uint8_t b[STAMP_BYTES] = {0};
    for (int i = 0; i < STAMP_BITS; i++)
        if (avg[i] > mid)
            b[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
    return unpack(b, out);
}

tdm_status tdm_stamp_read_luma(const uint8_t *y, int stride, int width, int height, int x, int y0,
                               tdm_stamp *out)
{
    if (!y || stride < width)
        return TDM_ERR_INVALID;
    if (!fits(width, height, x, y0))
        return TDM_ERR_RANGE;
    int avg[STAMP_BITS];
    for (int i = 0; i < STAMP_BITS; i++) {
        int cx = x + (i % TDM_STAMP_COLS) * TDM_STAMP_CELL + SAMPLE_OFF;
        int cy = y0 + (i / TDM_STAMP_COLS) * TDM_STAMP_CELL + SAMPLE_OFF;
        int sum = 0;
        for (int py = 0; py < SAMPLE_N; py++) {
            const uint8_t *p = y + (size_t)(cy + py) * (size_t)stride + cx;
            for (int px = 0; px < SAMPLE_N; px++)
                sum += p[px];
        }
        avg[i] = sum / (SAMPLE_N * SAMPLE_N);
    }
    return decide(avg, out);
}

tdm_status tdm_stamp_read_bgra(const uint8_t *bgra, int stride, int width, int height, int x, int y,
                               tdm_stamp *out)
{
    if (!bgra || stride < 4 * width)
        return TDM_ERR_INVALID;
    if (!fits(width, height, x, y))
        return TDM_ERR_RANGE;
    int avg[STAMP_BITS];
    for (int i = 0; i < STAMP_BITS; i++) {
        int cx = x + (i % TDM_STAMP_COLS) * TDM_STAMP_CELL + SAMPLE_OFF;
        int cy = y + (i / TDM_STAMP_COLS) * TDM_STAMP_CELL + SAMPLE_OFF;
        int sum = 0;
        for (int py = 0; py < SAMPLE_N; py++) {
            const uint8_t *p = bgra + (size_t)(cy + py) * (size_t)stride + (size_t)cx * 4;
            /* Integer BT.601 weights (0.299, 0.587, 0.114) x 256. */
            for (int px = 0; px < SAMPLE_N; px++, p += 4)
                sum += (29 * p[0] + 150 * p[1] + 77 * p[2]) >> 8;
        }
        avg[i] = sum / (SAMPLE_N * SAMPLE_N);
    }
    return decide(avg, out);
}
