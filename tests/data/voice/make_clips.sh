#!/bin/sh
# How tests/data/voice/*.ogg were made (Debian 12: festival festvox-italp16k sox ffmpeg). Run once; tests never run it.
set -e
say() {  # name, duration stretch, Italian text
  printf '%s' "$3" | iconv -f utf-8 -t iso-8859-1 > "$1.txt"
  text2wave -eval "(voice_lp_diphone)" -eval "(Parameter.set 'Duration_Stretch $2)" "$1.txt" -o "$1.wav"
  opus "$1"
}
opus() {  # what Telegram and WhatsApp send: Opus in OGG, mono, 48 kHz, voice mode
  ffmpeg -loglevel error -y -i "$1.wav" -af "apad=pad_dur=0.4" -ar 48000 -ac 1 -c:a libopus -b:a 24k -application voip "$1.ogg"
  rm -f "$1.wav" "$1.txt"
}
say non_urgente 1.4 "Non è urgente."
say descrizione 1.4 "Mi serve aiuto per fare la spesa, mia madre non esce di casa."
say si_va_bene 1.4 "Sì, va bene."
say venti_secondi 0.9 "Buongiorno, vi scrivo per mia madre che ha novant'anni e vive da sola a Ravenna. Da qualche settimana non riesce più a uscire di casa per fare la spesa e per andare in farmacia. Io lavoro tutto il giorno e abito lontano. Avremmo bisogno di qualcuno che la aiuti due volte alla settimana e che le faccia un po' di compagnia. Grazie mille."
sox -n -r 48000 -c 1 silenzio.wav trim 0 3 && opus silenzio
sox -n -r 48000 -c 1 rumore.wav synth 3 pinknoise vol 0.25 && opus rumore
