//! ANSI escape sequences in a log line -> styled spans, or just the visible text.
//!
//! Build tools write for terminals, so their lines hold colour codes, cursor tricks and
//! progress bars redrawn with `\r`. The viewer renders what a terminal would finally show on
//! that one line:
//!
//! - SGR (`ESC [ ... m`) sets the style: colours (16 named, 256-palette, 24-bit, in both the
//!   `;` and the `:` forms), bold, dim, italic, underline and their resets;
//! - `\r` moves back to column 0 and later text overwrites, so a progress line collapses to
//!   its last state (`"abcdef\rXY"` shows `"XYcdef"`);
//! - erase-in-line (`ESC [ K`, `1K`, `2K`) is honoured because progress bars pair it with `\r`
//!   (`"\r\x1b[KDone"`); without it the tail of the longer, older state would stay visible;
//! - every other escape (CSI of any final byte, OSC/DCS/APC/PM/SOS strings ended by BEL or
//!   ST, two-byte escapes, a lone ESC) and every control character except tab is dropped.
//!
//! Columns are counted in chars, not terminal cells (a wide CJK char counts one): that only
//! matters when `\r` overwrites wide text, which real progress bars don't do.
//!
//! Nothing here panics, whatever the input (checked by proptest).

use std::fmt::Write as _;

/// A text or background colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Colour {
    /// One of the 16 theme colours (0-7 normal, 8-15 bright); the app's CSS decides the hue.
    Named(u8),
    /// An entry of the xterm 256-colour palette (16-255; 0-15 are parsed as `Named`).
    Palette(u8),
    /// A 24-bit colour.
    Rgb(u8, u8, u8),
}

impl Colour {
    /// The theme index (0-15) if this colour follows the theme, else `None`.
    pub fn named_index(self) -> Option<u8> {
        match self {
            Colour::Named(i) if i < 16 => Some(i),
            Colour::Palette(i) if i < 16 => Some(i),
            _ => None,
        }
    }

    /// The colour as `#rrggbb` using the standard xterm palette (named colours use xterm's
    /// defaults; the app normally styles those through classes instead).
    pub fn to_hex(self) -> String {
        let (r, g, b) = self.rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// The colour's red, green and blue components in the xterm palette.
    pub fn rgb(self) -> (u8, u8, u8) {
        match self {
            Colour::Rgb(r, g, b) => (r, g, b),
            Colour::Named(i) | Colour::Palette(i) => xterm_rgb(i),
        }
    }
}

/// xterm's 256-colour palette: 16 system colours, a 6x6x6 cube, then 24 greys.
fn xterm_rgb(i: u8) -> (u8, u8, u8) {
    const SYSTEM: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        0..=15 => SYSTEM[i as usize],
        16..=231 => {
            let c = i - 16;
            (
                LEVELS[(c / 36) as usize],
                LEVELS[((c / 6) % 6) as usize],
                LEVELS[(c % 6) as usize],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// How a run of text looks. `Default` is the terminal's default look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Style {
    /// Text colour; `None` is the default.
    pub fg: Option<Colour>,
    /// Background colour; `None` is the default.
    pub bg: Option<Colour>,
    /// SGR 1.
    pub bold: bool,
    /// SGR 2 (faint).
    pub dim: bool,
    /// SGR 3.
    pub italic: bool,
    /// SGR 4 (any underline style).
    pub underline: bool,
}

impl Style {
    /// True if this is the default look (the app can then render bare text).
    pub fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// Space-separated CSS classes: `ansi-fg-N` / `ansi-bg-N` for the 16 theme colours
    /// (so light and dark themes pick their own hues), `ansi-bold`, `ansi-dim`,
    /// `ansi-italic`, `ansi-underline`. Palette and RGB colours go to [`Style::css_inline`].
    pub fn css_classes(&self) -> String {
        let mut out = String::new();
        let mut add = |class: &str| {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(class);
        };
        if let Some(i) = self.fg.and_then(Colour::named_index) {
            add(&format!("ansi-fg-{i}"));
        }
        if let Some(i) = self.bg.and_then(Colour::named_index) {
            add(&format!("ansi-bg-{i}"));
        }
        if self.bold {
            add("ansi-bold");
        }
        if self.dim {
            add("ansi-dim");
        }
        if self.italic {
            add("ansi-italic");
        }
        if self.underline {
            add("ansi-underline");
        }
        out
    }

    /// Inline CSS for the colours that classes can't express (palette 16-255 and RGB):
    /// `color: #rrggbb;` and/or `background-color: #rrggbb;`; empty if none.
    pub fn css_inline(&self) -> String {
        let mut out = String::new();
        if let Some(c) = self.fg.filter(|c| c.named_index().is_none()) {
            let _ = write!(out, "color: {};", c.to_hex());
        }
        if let Some(c) = self.bg.filter(|c| c.named_index().is_none()) {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "background-color: {};", c.to_hex());
        }
        out
    }
}

/// A run of visible text in one style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The visible text (no escapes, no control characters except tab).
    pub text: String,
    /// Its look.
    pub style: Style,
}

/// Parses a line's raw text into styled spans; adjacent spans of one style are merged and
/// empty spans are left out. Their texts joined equal [`plain_text`].
pub fn parse(text: &str) -> Vec<Span> {
    if !needs_parsing(text) {
        // The common case (most lines have no escapes): one allocation, no per-char work.
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![Span {
                text: text.to_owned(),
                style: Style::default(),
            }]
        };
    }
    let line = Screen::run(text, true);
    let mut spans: Vec<Span> = Vec::new();
    for (i, &ch) in line.chars.iter().enumerate() {
        let style = line.styles[line.cell_style[i] as usize];
        match spans.last_mut() {
            Some(last) if last.style == style => last.text.push(ch),
            _ => spans.push(Span {
                text: ch.to_string(),
                style,
            }),
        }
    }
    spans
}

/// The visible text of a line's raw text, without escapes or styles: what search looks at
/// and what "copy" and "download" give.
pub fn plain_text(text: &str) -> String {
    if !needs_parsing(text) {
        return text.to_owned();
    }
    if let Some(plain) = without_colours(text) {
        return plain;
    }
    Screen::run(text, false).chars.into_iter().collect()
}

/// The text without its colour sequences (`ESC [ digits ; : m`), when those are the only
/// thing in it a terminal acts on: then the cursor only ever moves right, and the screen's
/// row is the rest of the text as it is. `None` for anything else (the screen then runs).
/// Most coloured build output is just that, and a history of a million lines meets it at
/// every coloured line.
fn without_colours(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut kept) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                if bytes.get(i + 1) != Some(&b'[') {
                    return None;
                }
                let params = bytes[i + 2..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b';' || **b == b':')
                    .count();
                let end = i + 2 + params;
                if bytes.get(end) != Some(&b'm') {
                    return None;
                }
                out.push_str(text.get(kept..i)?);
                i = end + 1;
                kept = i;
            }
            b if (b < 0x20 && b != b'\t') || b == 0x7f => return None,
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => return None,
            _ => i += 1,
        }
    }
    out.push_str(text.get(kept..)?);
    Some(out)
}

/// True if the text holds anything the parser must act on: ESC, `\r` and other C0 controls
/// (tab excepted), DEL, or a C1 control (U+0080-U+009F, encoded `C2 80`-`C2 9F`).
/// A byte scan: cheap enough to run on every pushed line.
pub fn needs_parsing(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && b != b'\t')
            || b == 0x7f
            || (b == 0xc2 && matches!(bytes.get(i + 1), Some(0x80..=0x9f)))
    })
}

/// The one terminal row a line is drawn on: chars, and per char an index into `styles`
/// (an index, not a `Style`, to keep long lines' buffers small).
struct Screen {
    chars: Vec<char>,
    cell_style: Vec<u32>,
    styles: Vec<Style>,
    cursor: usize,
    track_styles: bool,
}

/// Where the parser is inside an escape sequence.
enum State {
    Text,
    /// Just saw ESC.
    Escape,
    /// ESC followed by intermediate bytes (`ESC ( B`): ends at a final byte.
    EscapeIntermediate,
    /// Inside `ESC [`: collecting parameter and intermediate bytes until the final byte.
    Csi,
    /// Inside an OSC/DCS/APC/PM/SOS string: ends at BEL or ST (`ESC \`).
    String,
    /// Saw ESC inside a string: `\` ends it, anything else continues it.
    StringEscape,
}

impl Screen {
    fn run(text: &str, track_styles: bool) -> Screen {
        let mut screen = Screen {
            chars: Vec::new(),
            cell_style: Vec::new(),
            styles: vec![Style::default()],
            cursor: 0,
            track_styles,
        };
        let mut state = State::Text;
        // The bytes of the CSI sequence being read (all ASCII by construction).
        let mut csi = String::new();
        for ch in text.chars() {
            state = match state {
                State::Text => screen.text_char(ch),
                State::Escape => match ch {
                    '[' => {
                        csi.clear();
                        State::Csi
                    }
                    ']' | 'P' | 'X' | '^' | '_' => State::String,
                    '\x20'..='\x2f' => State::EscapeIntermediate,
                    '\x30'..='\x7e' => State::Text,
                    // A lone ESC: drop it and read this char as ordinary input.
                    _ => screen.text_char(ch),
                },
                State::EscapeIntermediate => match ch {
                    '\x20'..='\x2f' => State::EscapeIntermediate,
                    '\x30'..='\x7e' => State::Text,
                    _ => screen.text_char(ch),
                },
                State::Csi => match ch {
                    '\x30'..='\x3f' | '\x20'..='\x2f' => {
                        // Bounded: a hostile line of endless parameters must not grow memory.
                        if csi.len() < 256 {
                            csi.push(ch);
                        }
                        State::Csi
                    }
                    '\x40'..='\x7e' => {
                        screen.csi(&csi, ch);
                        csi.clear();
                        State::Text
                    }
                    // Anything else aborts the sequence (as terminals do) and is read as input.
                    _ => {
                        csi.clear();
                        screen.text_char(ch)
                    }
                },
                State::String => match ch {
                    '\x07' | '\u{9c}' => State::Text,
                    '\x1b' => State::StringEscape,
                    _ => State::String,
                },
                State::StringEscape => match ch {
                    '\\' => State::Text,
                    '\x1b' => State::StringEscape,
                    _ => State::String,
                },
            };
        }
        screen
    }

    /// Handles one char outside escape sequences and gives the next state.
    fn text_char(&mut self, ch: char) -> State {
        match ch {
            '\x1b' => return State::Escape,
            // 8-bit CSI and OSC introducers, as some tools emit them.
            '\u{9b}' => return State::Csi,
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => return State::String,
            '\r' => self.cursor = 0,
            '\t' => self.put(ch),
            c if c.is_control() => {}
            c => self.put(c),
        }
        State::Text
    }

    /// Writes a visible char at the cursor (overwriting after `\r`) and advances.
    fn put(&mut self, ch: char) {
        let style = if self.track_styles {
            (self.styles.len() - 1) as u32
        } else {
            0
        };
        if self.cursor < self.chars.len() {
            self.chars[self.cursor] = ch;
            self.cell_style[self.cursor] = style;
        } else {
            self.chars.push(ch);
            self.cell_style.push(style);
        }
        self.cursor += 1;
    }

    /// Acts on a complete CSI sequence: SGR and erase-in-line; all others are dropped.
    fn csi(&mut self, params: &str, final_byte: char) {
        // Private (`?25h`) and intermediate-byte sequences are never SGR/EL.
        let plain_params = params
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b';' || b == b':');
        if !plain_params {
            return;
        }
        match final_byte {
            'm' if self.track_styles => {
                let current = *self.styles.last().unwrap_or(&Style::default());
                let next = apply_sgr(current, params);
                if next != current {
                    self.styles.push(next);
                }
            }
            'K' => self.erase_in_line(params),
            _ => {}
        }
    }

    /// `ESC [ K`: 0 erases from the cursor to the end, 1 from the start to the cursor,
    /// 2 the whole row (the cursor stays where it is, as in a terminal).
    fn erase_in_line(&mut self, params: &str) {
        let mode = params.split([';', ':']).next().map(parse_num).unwrap_or(0);
        match mode {
            0 => {
                self.chars.truncate(self.cursor);
                self.cell_style.truncate(self.cursor);
            }
            1 | 2 => {
                let end = if mode == 2 {
                    self.chars.len()
                } else {
                    (self.cursor + 1).min(self.chars.len())
                };
                for i in 0..end {
                    self.chars[i] = ' ';
                    self.cell_style[i] = 0;
                }
                if mode == 2 || end == self.chars.len() {
                    // Blanks at the end of the row aren't text; only those before the cursor
                    // are kept, as later text will be written after them.
                    let keep = self.cursor.min(self.chars.len());
                    self.chars.truncate(keep);
                    self.cell_style.truncate(keep);
                }
            }
            _ => {}
        }
    }
}

/// Parses a decimal parameter, saturating (a huge number is just "invalid"), empty = 0.
fn parse_num(s: &str) -> u32 {
    s.bytes().filter(u8::is_ascii_digit).fold(0u32, |n, d| {
        n.saturating_mul(10).saturating_add((d - b'0') as u32)
    })
}

/// Applies an SGR parameter string to a style.
fn apply_sgr(mut style: Style, params: &str) -> Style {
    // `ESC [ m` is a reset, like `ESC [ 0 m`.
    if params.is_empty() {
        return Style::default();
    }
    let groups: Vec<&str> = params.split(';').collect();
    let mut i = 0;
    while i < groups.len() {
        let group = groups[i];
        i += 1;
        let mut sub = group.split(':');
        let code = parse_num(sub.next().unwrap_or(""));
        let has_sub = group.contains(':');
        match code {
            0 => style = Style::default(),
            1 => style.bold = true,
            2 => style.dim = true,
            3 => style.italic = true,
            // `4:0` is "no underline" in the colon form; `4:3` (curly) etc. are underlines.
            4 => style.underline = !(has_sub && sub.next().map(parse_num) == Some(0)),
            22 => {
                style.bold = false;
                style.dim = false;
            }
            23 => style.italic = false,
            24 => style.underline = false,
            30..=37 => style.fg = Some(Colour::Named((code - 30) as u8)),
            90..=97 => style.fg = Some(Colour::Named((code - 90 + 8) as u8)),
            40..=47 => style.bg = Some(Colour::Named((code - 40) as u8)),
            100..=107 => style.bg = Some(Colour::Named((code - 100 + 8) as u8)),
            39 => style.fg = None,
            49 => style.bg = None,
            38 | 48 => {
                let colour = if has_sub {
                    let rest: Vec<u32> = sub.map(parse_num).collect();
                    extended_colour_colon(&rest)
                } else {
                    let (colour, used) = extended_colour_semicolon(&groups[i..]);
                    i += used;
                    colour
                };
                if let Some(c) = colour {
                    if code == 38 {
                        style.fg = Some(c);
                    } else {
                        style.bg = Some(c);
                    }
                }
            }
            // Blink, inverse, hidden, strike-through, fonts...: not rendered.
            _ => {}
        }
    }
    style
}

/// `38;5;n` / `38;2;r;g;b` (after the 38): the colour, if valid, and how many groups it used
/// (consumed even when invalid, so `38;5;300;1` doesn't read 300 as another code).
fn extended_colour_semicolon(rest: &[&str]) -> (Option<Colour>, usize) {
    let num = |k: usize| rest.get(k).map(|s| parse_num(s));
    match num(0) {
        Some(5) => (num(1).and_then(palette), 2.min(rest.len())),
        Some(2) => {
            let rgb = match (num(1), num(2), num(3)) {
                (Some(r), Some(g), Some(b)) => rgb(r, g, b),
                _ => None,
            };
            (rgb, 4.min(rest.len()))
        }
        Some(_) => (None, 1),
        None => (None, 0),
    }
}

/// `38:5:n`, `38:2:r:g:b` or `38:2:space:r:g:b` (after the 38).
fn extended_colour_colon(rest: &[u32]) -> Option<Colour> {
    match rest {
        [5, n, ..] => palette(*n),
        [2, _, r, g, b, ..] => rgb(*r, *g, *b),
        [2, r, g, b] => rgb(*r, *g, *b),
        _ => None,
    }
}

/// A palette index; 0-15 become `Named` so they follow the theme like SGR 30-37/90-97.
fn palette(n: u32) -> Option<Colour> {
    match u8::try_from(n) {
        Ok(n) if n < 16 => Some(Colour::Named(n)),
        Ok(n) => Some(Colour::Palette(n)),
        Err(_) => None,
    }
}

fn rgb(r: u32, g: u32, b: u32) -> Option<Colour> {
    Some(Colour::Rgb(
        u8::try_from(r).ok()?,
        u8::try_from(g).ok()?,
        u8::try_from(b).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fg(i: u8) -> Style {
        Style {
            fg: Some(Colour::Named(i)),
            ..Style::default()
        }
    }

    fn texts(spans: &[Span]) -> Vec<&str> {
        spans.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn plain_line_is_one_default_span() {
        let spans = parse("Step 1/12 : FROM node:20-alpine");
        assert_eq!(
            spans,
            vec![Span {
                text: "Step 1/12 : FROM node:20-alpine".into(),
                style: Style::default()
            }]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn bold_red_error_then_reset() {
        let spans = parse("\x1b[1;31mERROR\x1b[0m: failed to solve: exit code: 1");
        assert_eq!(
            texts(&spans),
            vec!["ERROR", ": failed to solve: exit code: 1"]
        );
        assert_eq!(
            spans[0].style,
            Style {
                bold: true,
                ..fg(1)
            }
        );
        assert!(spans[1].style.is_plain());
        assert_eq!(spans[0].style.css_classes(), "ansi-fg-1 ansi-bold");
        assert_eq!(spans[0].style.css_inline(), "");
    }

    #[test]
    fn bright_and_background_colours() {
        let spans = parse("\x1b[92mok\x1b[39m \x1b[41;97m FAIL \x1b[49m\x1b[m");
        assert_eq!(texts(&spans), vec!["ok", " ", " FAIL "]);
        assert_eq!(spans[0].style, fg(10));
        assert_eq!(spans[2].style.bg, Some(Colour::Named(1)));
        assert_eq!(spans[2].style.fg, Some(Colour::Named(15)));
        assert_eq!(spans[2].style.css_classes(), "ansi-fg-15 ansi-bg-1");
        let spans = parse("\x1b[104mx");
        assert_eq!(spans[0].style.bg, Some(Colour::Named(12)));
    }

    #[test]
    fn palette_and_truecolour() {
        let spans = parse("\x1b[38;5;208mwarn\x1b[38;2;255;128;0mrgb\x1b[48;5;3mbg");
        assert_eq!(spans[0].style.fg, Some(Colour::Palette(208)));
        assert_eq!(spans[0].style.css_inline(), "color: #ff8700;");
        assert_eq!(spans[1].style.fg, Some(Colour::Rgb(255, 128, 0)));
        assert_eq!(spans[1].style.css_inline(), "color: #ff8000;");
        // Palette 0-15 follows the theme like SGR 30-37.
        assert_eq!(spans[2].style.bg, Some(Colour::Named(3)));
        assert!(spans[2].style.css_classes().contains("ansi-bg-3"));
        // Greys at the end of the palette.
        assert_eq!(Colour::Palette(232).to_hex(), "#080808");
        assert_eq!(Colour::Palette(16).to_hex(), "#000000");
        assert_eq!(Colour::Palette(231).to_hex(), "#ffffff");
    }

    #[test]
    fn colon_forms_of_extended_colours() {
        let spans = parse("\x1b[38:2::10:20:30ma\x1b[38:2:1:2:3mb\x1b[48:5:100mc\x1b[4:3md");
        assert_eq!(spans[0].style.fg, Some(Colour::Rgb(10, 20, 30)));
        assert_eq!(spans[1].style.fg, Some(Colour::Rgb(1, 2, 3)));
        assert_eq!(spans[2].style.bg, Some(Colour::Palette(100)));
        assert!(spans[3].style.underline);
        let spans = parse("\x1b[4mu\x1b[4:0mv");
        assert!(spans[0].style.underline && !spans[1].style.underline);
    }

    #[test]
    fn invalid_extended_colours_are_consumed_not_misread() {
        // 300 is no palette entry; it must not be read as some other code, but the 1 after it is.
        let spans = parse("\x1b[38;5;300;1mx");
        assert_eq!(spans[0].style.fg, None);
        assert!(spans[0].style.bold);
        let spans = parse("\x1b[38;2;1;2mx");
        assert_eq!(spans[0].style.fg, None);
        let spans = parse("\x1b[38mx\x1b[38;9;1my");
        assert_eq!(spans[0].style, Style::default());
        assert!(spans.iter().all(|s| s.style.fg.is_none()));
    }

    #[test]
    fn attribute_resets() {
        let spans = parse("\x1b[1;2;3;4mall\x1b[22mni\x1b[23mu\x1b[24mplain");
        assert_eq!(texts(&spans), vec!["all", "ni", "u", "plain"]);
        let s = spans[0].style;
        assert!(s.bold && s.dim && s.italic && s.underline);
        assert_eq!(
            s.css_classes(),
            "ansi-bold ansi-dim ansi-italic ansi-underline"
        );
        assert!(!spans[1].style.bold && !spans[1].style.dim && spans[1].style.italic);
        assert!(!spans[2].style.italic && spans[2].style.underline);
        assert!(spans[3].style.is_plain());
    }

    #[test]
    fn same_style_spans_merge() {
        let spans = parse("\x1b[31ma\x1b[31mb\x1b[1m\x1b[22mc");
        assert_eq!(texts(&spans), vec!["abc"]);
    }

    #[test]
    fn other_sequences_are_stripped() {
        // Cursor hide/show, cursor moves, OSC title (BEL and ST), OSC 8 hyperlink, charset.
        let raw = "\x1b[?25l\x1b[2A\x1b]0;title\x07\x1b]8;;https://x.io\x1b\\link\x1b]8;;\x1b\\ \x1b(Bdone\x1b[?25h";
        assert_eq!(plain_text(raw), "link done");
        // DCS / APC strings, 8-bit CSI, two-byte escapes.
        assert_eq!(plain_text("a\x1bPq#0\x1b\\b\x1b_apc\x07c"), "abc");
        assert_eq!(plain_text("x\u{9b}31my\x1b7z\x1b8"), "xyz");
    }

    #[test]
    fn control_characters_are_stripped_but_tab_is_kept() {
        assert_eq!(plain_text("a\tb\x07c\x08d\x00e\x7ff\u{85}g\n"), "a\tbcdefg");
        // A lone ESC at the end, or before something that can't follow it.
        assert_eq!(plain_text("end\x1b"), "end");
        assert_eq!(plain_text("a\x1b\x1b[31mb"), "ab");
        assert_eq!(plain_text("a\x1béb"), "aéb");
        // An unfinished CSI at the end is dropped; a broken one aborts and keeps the text.
        assert_eq!(plain_text("a\x1b[31"), "a");
        assert_eq!(plain_text("a\x1b[3é"), "aé");
    }

    #[test]
    fn carriage_return_overwrites_like_a_terminal() {
        assert_eq!(plain_text("abcdef\rXY"), "XYcdef");
        assert_eq!(plain_text("abc\r"), "abc");
        assert_eq!(plain_text("\r\rabc\r\r"), "abc");
        assert_eq!(
            plain_text("Downloading 10%\rDownloading 50%\rDownloading 100%"),
            "Downloading 100%"
        );
    }

    #[test]
    fn npm_progress_bar_with_erase_in_line() {
        let raw = "\x1b[K[##........] \\ fetchMetadata: sill resolveWithNewModule\r\x1b[K\
                   [##########] | reify:lodash: timing\r\x1b[Kadded 312 packages in 9s";
        assert_eq!(plain_text(raw), "added 312 packages in 9s");
        // EL 2 with the cursor at column 0, then new text.
        assert_eq!(plain_text("long old status\r\x1b[2Knew"), "new");
        // EL 1 blanks up to and including the cursor.
        assert_eq!(plain_text("abcdef\r\x1b[1K"), " bcdef");
        // Blanks before the cursor stay: later text is written after them.
        assert_eq!(plain_text("ab\x1b[1Kc"), "  c");
    }

    #[test]
    fn carriage_return_keeps_styles_per_cell() {
        let spans = parse("\x1b[32m[====    ]\x1b[0m 50%\r\x1b[32m[========]\x1b[0m 100%");
        assert_eq!(texts(&spans), vec!["[========]", " 100%"]);
        assert_eq!(spans[0].style, fg(2));
        let spans = parse("\x1b[31mred tail\r\x1b[0mok");
        assert_eq!(texts(&spans), vec!["ok", "d tail"]);
        assert!(spans[0].style.is_plain());
        assert_eq!(spans[1].style, fg(1));
    }

    #[test]
    fn docker_buildkit_output() {
        let raw = "#8 [build 4/6] RUN npm ci\n";
        assert_eq!(plain_text(raw), "#8 [build 4/6] RUN npm ci");
        let raw = "\x1b[0m\x1b[34m[+] Building 12.3s (8/11)\x1b[0m\r\x1b[34m[+] Building 14.0s (11/11) FINISHED\x1b[0m";
        let spans = parse(raw);
        assert_eq!(texts(&spans), vec!["[+] Building 14.0s (11/11) FINISHED"]);
        assert_eq!(spans[0].style, fg(4));
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let spans = parse("\x1b[99999999999999999999;38;2;999999999999;0;0mx");
        assert_eq!(texts(&spans), vec!["x"]);
        assert_eq!(spans[0].style.fg, None);
    }

    #[test]
    fn needs_parsing_spots_controls() {
        assert!(!needs_parsing("plain\ttext é ü 日本"));
        assert!(needs_parsing("a\x1b[0m"));
        assert!(needs_parsing("a\rb"));
        assert!(needs_parsing("a\u{9b}b"));
        assert!(!needs_parsing("\u{a0}\u{100}"));
    }
}
