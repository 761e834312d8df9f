//! Initials avatars for mentors without a usable photo: a small SVG we write ourselves (so it
//! carries no script), white initials on a colour picked from the slug, the same every build.

/// The SVG for `initials` on the colour `hue` (0–359). White on 32 % lightness at 45 %
/// saturation keeps a contrast of at least 4.5:1 at every hue.
pub fn svg(initials: &str, hue: u16) -> String {
    let text: String = initials
        .chars()
        .take(3)
        .map(|c| match c {
            '<' | '>' | '&' | '"' | '\'' => ' ',
            c => c,
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 100\" width=\"320\" height=\"320\">\
<rect width=\"100\" height=\"100\" fill=\"hsl({hue} 45% 32%)\"/>\
<text x=\"50\" y=\"50\" dy=\"0.35em\" text-anchor=\"middle\" fill=\"#fff\" \
font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" font-size=\"40\" font-weight=\"700\">{text}</text></svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_is_plain_svg_without_script() {
        let s = svg("AB", 200);
        assert!(s.starts_with("<svg"));
        assert!(s.contains(">AB</text>"));
        assert!(s.contains("hsl(200 45% 32%)"));
        assert!(!svg("<script>", 1).contains("<script"));
    }

    /// WCAG contrast of white on the darkest-looking and lightest-looking hues.
    #[test]
    fn white_initials_have_enough_contrast_at_every_hue() {
        for hue in 0..360 {
            let (r, g, b) = hsl_to_rgb(f64::from(hue), 0.45, 0.32);
            let lum = |c: f64| {
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            let l = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b);
            let contrast = 1.05 / (l + 0.05);
            assert!(contrast >= 4.5, "hue {hue}: {contrast:.2}");
        }
    }

    fn hsl_to_rgb(h: f64, s: f64, l: f64) -> (f64, f64, f64) {
        let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
        let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
        let m = l - c / 2.0;
        let (r, g, b) = match (h / 60.0) as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        (r + m, g + m, b + m)
    }
}
