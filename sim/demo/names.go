package demo

// Word lists for holder names and terminal locations. Functions, not package
// variables, for the reason given in catalogue.go.

// womenFirstNames are first names of women common in Silesia across the
// generations that hold cards, from Gertruda and Jadwiga to Zuzanna.
func womenFirstNames() []string {
	return []string{
		"Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara",
		"Ewa", "Krystyna", "Elżbieta", "Magdalena", "Joanna", "Zofia",
		"Aleksandra", "Monika", "Teresa", "Danuta", "Natalia", "Karolina",
		"Marta", "Beata", "Dorota", "Halina", "Jadwiga", "Janina", "Irena",
		"Jolanta", "Grażyna", "Iwona", "Justyna", "Paulina", "Julia",
		"Wiktoria", "Alicja", "Urszula", "Renata", "Sylwia", "Patrycja",
		"Agata", "Emilia", "Weronika", "Helena", "Hanna", "Gabriela",
		"Dominika", "Kinga", "Izabela", "Bożena", "Stanisława", "Lena",
		"Oliwia", "Zuzanna", "Maja", "Ewelina", "Kamila", "Łucja",
		"Gertruda", "Brygida", "Edyta", "Róża", "Genowefa",
	}
}

// menFirstNames are first names of men, with Silesian favourites such as
// Alojzy, Bernard, Gerard and Norbert among the common Polish ones.
func menFirstNames() []string {
	return []string{
		"Jan", "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał",
		"Marcin", "Stanisław", "Jakub", "Adam", "Marek", "Łukasz", "Grzegorz",
		"Mateusz", "Wojciech", "Mariusz", "Dariusz", "Zbigniew", "Jerzy",
		"Józef", "Tadeusz", "Kamil", "Maciej", "Rafał", "Robert", "Kazimierz",
		"Ryszard", "Szymon", "Sebastian", "Artur", "Damian", "Dawid",
		"Bartosz", "Przemysław", "Henryk", "Zdzisław", "Roman", "Sławomir",
		"Jacek", "Daniel", "Wiesław", "Patryk", "Karol", "Filip", "Antoni",
		"Franciszek", "Wiktor", "Hubert", "Oskar", "Ignacy", "Leon",
		"Alojzy", "Bernard", "Gerard", "Norbert", "Zygmunt", "Edward",
		"Eugeniusz", "Ginter",
	}
}

// surname holds the two forms of a Polish surname. Adjectival surnames
// (-ski, -cki, -dzki, -y) change with the holder's sex; the others do not,
// including those that end in -a (Jan Duda, Anna Duda).
type surname struct{ man, woman string }

// surnames are common Polish surnames and typically Silesian ones.
func surnames() []surname {
	invariant := []string{
		"Nowak", "Wójcik", "Kowalczyk", "Woźniak", "Mazur", "Krawczyk",
		"Kaczmarek", "Zając", "Król", "Wieczorek", "Wróbel", "Adamczyk",
		"Dudek", "Pawlak", "Walczak", "Sikora", "Baran", "Michalak",
		"Szewczyk", "Pietrzak", "Duda", "Kowol", "Pyka", "Kocur",
		"Szołtysek", "Bednorz", "Kubica", "Morcinek", "Wyleżoł", "Czech",
		"Nowok", "Gajda", "Mainka", "Kandzia", "Kolorz", "Świerc", "Fojcik",
		"Kłosek", "Sowa", "Skiba", "Pietrzyk", "Pawlik", "Cieślik", "Ficek",
		"Wodarz", "Kempa", "Pieczka", "Mrozek", "Golec", "Jurczyk",
		"Porwoł", "Kuczera", "Kurzawa", "Myszor", "Wawrzyczek", "Bugla",
	}
	adjectival := []string{ // masculine form; the feminine ends in -a
		"Kowalski", "Wiśniewski", "Lewandowski", "Kamiński", "Zieliński",
		"Szymański", "Dąbrowski", "Kozłowski", "Jankowski", "Wojciechowski",
		"Kwiatkowski", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski",
		"Michalski", "Nowicki", "Zawadzki", "Jasiński", "Sadowski",
		"Olszewski", "Czarnecki", "Górecki", "Lisowski", "Mroczkowski",
		"Sobański", "Brzeziński", "Wesoły", "Biały", "Mały",
	}
	out := make([]surname, 0, len(invariant)+len(adjectival))
	for _, s := range invariant {
		out = append(out, surname{man: s, woman: s})
	}
	for _, s := range adjectival {
		out = append(out, surname{man: s, woman: feminine(s)})
	}
	return out
}

// feminine turns a masculine adjectival surname into its feminine form:
// Kowalski → Kowalska, Nowicki → Nowicka, Zawadzki → Zawadzka,
// Wesoły → Wesoła. The final letter is ASCII in every case (i or y).
func feminine(masculine string) string {
	return masculine[:len(masculine)-1] + "a"
}

// streets are street names found in most towns of the conurbation.
func streets() []string {
	return []string{
		"Mickiewicza", "Kościuszki", "Sienkiewicza", "Słowackiego",
		"Dworcowa", "Wolności", "Powstańców Śląskich", "Korfantego",
		"Piłsudskiego", "Jana Pawła II", "Krakowska", "Wojska Polskiego",
		"Zwycięstwa", "Chrobrego", "Piastowska", "Armii Krajowej", "Szkolna",
		"Kopernika", "Moniuszki", "Reymonta", "Żeromskiego", "3 Maja",
		"1 Maja", "Damrota", "Wyszyńskiego", "Karola Miarki", "Wincentego Pola",
		"Strzelców Bytomskich", "Polna", "Bankowa",
	}
}

// stops are the endings of stop names: "Chorzów Rynek", "Bytom Dworzec".
func stops() []string {
	return []string{"Rynek", "Dworzec", "Centrum", "Urząd Miasta", "Szpital", "Plac Wolności", "Stadion", "Cmentarz"}
}
