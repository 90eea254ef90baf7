package sas

// Emoji is one entry of the m.sas.v1 emoji table (spec "SAS method:
// emoji", https://spec.matrix.org/v1.19/client-server-api/#sas-method-emoji,
// whose table is data-definitions/sas-emoji.json in the matrix-spec
// repository; German names from its sas-emoji-v1-i18n/de.json). Show the emoji together with
// its name in the user's language. Emoji values are public.
type Emoji struct {
	// Number is the entry's index, 0..63 (the 6-bit group that selects it).
	Number int
	// Emoji is the emoji as the spec lists it, including U+FE0F
	// (emoji presentation) where the spec has it.
	Emoji string
	// Description is the English name from the spec (e.g. "Dog").
	Description string
	// German is the German name from the spec's translations (e.g. "Hund").
	German string
}

// emojiIndices splits the first 42 bits of the six short-auth bytes into
// seven 6-bit table indices, most significant bits first (spec: "SAS
// method: emoji").
func emojiIndices(b [6]byte) [7]int {
	v := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
	v >>= 6
	var idx [7]int
	for k := range idx {
		idx[k] = int(v>>(6*(6-k))) & 63
	}
	return idx
}

// emojiFromBytes returns the seven emoji for the six short-auth bytes.
func emojiFromBytes(b [6]byte) [7]Emoji {
	var out [7]Emoji
	for k, i := range emojiIndices(b) {
		out[k] = emojiTable[i]
	}
	return out
}

// decimalsFromBytes returns the three numbers of the decimal method, each
// 1000..9191, made from the first five of the six short-auth bytes (spec:
// "SAS method: decimal").
func decimalsFromBytes(b [6]byte) [3]int {
	return [3]int{
		(int(b[0])<<5 | int(b[1])>>3) + 1000,
		(int(b[1]&0x7)<<10 | int(b[2])<<2 | int(b[3])>>6) + 1000,
		(int(b[3]&0x3F)<<7 | int(b[4])>>1) + 1000,
	}
}

var emojiTable = [64]Emoji{
	{0, "\U0001F436", "Dog", "Hund"},
	{1, "\U0001F431", "Cat", "Katze"},
	{2, "\U0001F981", "Lion", "Löwe"},
	{3, "\U0001F40E", "Horse", "Pferd"},
	{4, "\U0001F984", "Unicorn", "Einhorn"},
	{5, "\U0001F437", "Pig", "Schwein"},
	{6, "\U0001F418", "Elephant", "Elefant"},
	{7, "\U0001F430", "Rabbit", "Hase"},
	{8, "\U0001F43C", "Panda", "Panda"},
	{9, "\U0001F413", "Rooster", "Hahn"},
	{10, "\U0001F427", "Penguin", "Pinguin"},
	{11, "\U0001F422", "Turtle", "Schildkröte"},
	{12, "\U0001F41F", "Fish", "Fisch"},
	{13, "\U0001F419", "Octopus", "Oktopus"},
	{14, "\U0001F98B", "Butterfly", "Schmetterling"},
	{15, "\U0001F337", "Flower", "Blume"},
	{16, "\U0001F333", "Tree", "Baum"},
	{17, "\U0001F335", "Cactus", "Kaktus"},
	{18, "\U0001F344", "Mushroom", "Pilz"},
	{19, "\U0001F30F", "Globe", "Globus"},
	{20, "\U0001F319", "Moon", "Mond"},
	{21, "\u2601\uFE0F", "Cloud", "Wolke"},
	{22, "\U0001F525", "Fire", "Feuer"},
	{23, "\U0001F34C", "Banana", "Banane"},
	{24, "\U0001F34E", "Apple", "Apfel"},
	{25, "\U0001F353", "Strawberry", "Erdbeere"},
	{26, "\U0001F33D", "Corn", "Mais"},
	{27, "\U0001F355", "Pizza", "Pizza"},
	{28, "\U0001F382", "Cake", "Kuchen"},
	{29, "\u2764\uFE0F", "Heart", "Herz"},
	{30, "\U0001F600", "Smiley", "Lächeln"},
	{31, "\U0001F916", "Robot", "Roboter"},
	{32, "\U0001F3A9", "Hat", "Hut"},
	{33, "\U0001F453", "Glasses", "Brille"},
	{34, "\U0001F527", "Spanner", "Schraubenschlüssel"},
	{35, "\U0001F385", "Santa", "Weihnachtsmann"},
	{36, "\U0001F44D", "Thumbs Up", "Daumen Hoch"},
	{37, "\u2602\uFE0F", "Umbrella", "Regenschirm"},
	{38, "\u231B", "Hourglass", "Sanduhr"},
	{39, "\u23F0", "Clock", "Uhr"},
	{40, "\U0001F381", "Gift", "Geschenk"},
	{41, "\U0001F4A1", "Light Bulb", "Glühbirne"},
	{42, "\U0001F4D5", "Book", "Buch"},
	{43, "\u270F\uFE0F", "Pencil", "Bleistift"},
	{44, "\U0001F4CE", "Paperclip", "Büroklammer"},
	{45, "\u2702\uFE0F", "Scissors", "Schere"},
	{46, "\U0001F512", "Lock", "Schloss"},
	{47, "\U0001F511", "Key", "Schlüssel"},
	{48, "\U0001F528", "Hammer", "Hammer"},
	{49, "\u260E\uFE0F", "Telephone", "Telefon"},
	{50, "\U0001F3C1", "Flag", "Flagge"},
	{51, "\U0001F682", "Train", "Zug"},
	{52, "\U0001F6B2", "Bicycle", "Fahrrad"},
	{53, "\u2708\uFE0F", "Aeroplane", "Flugzeug"},
	{54, "\U0001F680", "Rocket", "Rakete"},
	{55, "\U0001F3C6", "Trophy", "Pokal"},
	{56, "\u26BD", "Ball", "Ball"},
	{57, "\U0001F3B8", "Guitar", "Gitarre"},
	{58, "\U0001F3BA", "Trumpet", "Trompete"},
	{59, "\U0001F514", "Bell", "Glocke"},
	{60, "\u2693", "Anchor", "Anker"},
	{61, "\U0001F3A7", "Headphones", "Kopfhörer"},
	{62, "\U0001F4C1", "Folder", "Ordner"},
	{63, "\U0001F4CC", "Pin", "Stecknadel"},
}
