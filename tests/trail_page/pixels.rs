//! A screenshot read back as pixels: which areas have a colour, and where.

use std::path::Path;

/// An 8-bit RGB colour.
pub type Rgb = [u8; 3];

/// A decoded screenshot.
pub struct Image {
    pub width: usize,
    pub height: usize,
    rgb: Vec<Rgb>,
}

/// A connected area of one colour: its size and bounding box.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub pixels: usize,
    pub left: usize,
    pub top: usize,
    pub right: usize,
    pub bottom: usize,
}

impl Image {
    /// Reads a PNG as Chromium writes it (8-bit RGB or RGBA).
    pub fn read(path: &Path) -> Image {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        let (width, height) = (info.width as usize, info.height as usize);
        let rgb = buf[..width * height * channels]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image { width, height, rgb }
    }

    /// Pixels within `tolerance` of `colour` on each channel.
    pub fn count(&self, colour: Rgb, tolerance: u8) -> usize {
        self.rgb
            .iter()
            .filter(|p| near(**p, colour, tolerance))
            .count()
    }

    /// Pixels within `tolerance` of `colour` inside `area`.
    pub fn count_in(&self, colour: Rgb, tolerance: u8, area: &Area) -> usize {
        let mut count = 0;
        for y in area.top..=area.bottom {
            for x in area.left..=area.right {
                if near(self.rgb[y * self.width + x], colour, tolerance) {
                    count += 1;
                }
            }
        }
        count
    }

    /// Connected areas (4-neighbour) of exactly `colour` holding at least
    /// `min_pixels`, top to bottom.
    pub fn areas(&self, colour: Rgb, min_pixels: usize) -> Vec<Area> {
        let mut seen = vec![false; self.rgb.len()];
        let mut areas = Vec::new();
        for start in 0..self.rgb.len() {
            if seen[start] || self.rgb[start] != colour {
                continue;
            }
            let mut area = Area {
                pixels: 0,
                left: usize::MAX,
                top: usize::MAX,
                right: 0,
                bottom: 0,
            };
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(at) = stack.pop() {
                let (x, y) = (at % self.width, at / self.width);
                area.pixels += 1;
                area.left = area.left.min(x);
                area.right = area.right.max(x);
                area.top = area.top.min(y);
                area.bottom = area.bottom.max(y);
                let mut visit = |next: usize| {
                    if !seen[next] && self.rgb[next] == colour {
                        seen[next] = true;
                        stack.push(next);
                    }
                };
                if x > 0 {
                    visit(at - 1);
                }
                if x + 1 < self.width {
                    visit(at + 1);
                }
                if y > 0 {
                    visit(at - self.width);
                }
                if y + 1 < self.height {
                    visit(at + self.width);
                }
            }
            if area.pixels >= min_pixels {
                areas.push(area);
            }
        }
        areas.sort_by_key(|a| (a.top, a.left));
        areas
    }
}

fn near(a: Rgb, b: Rgb, tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// `#rrggbb` as a colour.
pub fn hex(text: &str) -> Rgb {
    let value = u32::from_str_radix(text.trim_start_matches('#'), 16).unwrap();
    [(value >> 16) as u8, (value >> 8) as u8, value as u8]
}
